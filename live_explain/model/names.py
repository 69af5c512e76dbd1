"""Names of the models live-explain offers; importing this costs no torch import."""

import importlib.util

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

# Ultralytics YOLO detectors (the optional ``[yolo]`` extra), built from the model files that
# the Ultralytics package ships: every size of each generation.
YOLO_SIZES = ("n", "s", "m", "l", "x")
YOLO_GENERATIONS = ("yolov8", "yolo11", "yolo26")
YOLO_MODELS = tuple(f"{generation}{size}" for generation in YOLO_GENERATIONS for size in YOLO_SIZES)

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


def is_yolo(name: str) -> bool:
    return name in YOLO_MODELS


def available_yolo_models() -> tuple[str, ...]:
    """The YOLO models, where the ``[yolo]`` extra (Ultralytics) is installed (not imported)."""
    return YOLO_MODELS if importlib.util.find_spec("ultralytics") is not None else ()
