"""Names of the models live-explain offers; importing this costs no torch import."""

DEFAULT_DETECTOR = "fasterrcnn_mobilenet_v3_large_320_fpn"
DEMO_MODEL = "demo"  # the bundled detector trained on synthetic scenes

DETECTORS = (
    "fasterrcnn_mobilenet_v3_large_320_fpn",
    "fasterrcnn_mobilenet_v3_large_fpn",
    "fasterrcnn_resnet50_fpn",
    "fasterrcnn_resnet50_fpn_v2",
    "retinanet_resnet50_fpn",
    "retinanet_resnet50_fpn_v2",
    "fcos_resnet50_fpn",
    "ssd300_vgg16",
    "ssdlite320_mobilenet_v3_large",
)

CLASSIFIERS = (
    "resnet18",
    "resnet50",
    "mobilenet_v3_large",
    "mobilenet_v3_small",
    "efficientnet_b0",
    "convnext_tiny",
    "regnet_y_400mf",
)

# Road users and road furniture: what a driving view cares about (COCO names).
DRIVING_CLASSES = (
    "person",
    "bicycle",
    "car",
    "motorcycle",
    "bus",
    "truck",
    "traffic light",
    "stop sign",
)
