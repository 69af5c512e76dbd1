"""The demo detector: a small Faster R-CNN sized for a CPU, trained on synthetic scenes.

It is a real torchvision ``FasterRCNN`` (so every explanation path is the one real detectors
take), with a compact convolutional body, a three-level FPN and a narrow two-layer box head,
at the sample drive's native 640x360.

Stages 3-5 also see where they are: each gets the normalised x and y of every cell as two
extra input channels (CoordConv, Liu et al. 2018). Convolutions are blind to position, so
two look-alike objects (a pair of traffic lights, a group of pedestrians) give identical
features, and a Grad-CAM map, whose channel weights are shared by the whole frame, then lights
up all of them alike. With the coordinates the body can learn features tied to a place, and
the explanation term of training (``explanation_loss``) rewards that. Their weights start at
zero and training holds them there while it learns to detect (stage 1); the explain stage
lets them move.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn
from torchvision.models.detection import FasterRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.ops import MultiScaleRoIAlign
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

from live_explain.model.names import DRIVING_CLASSES

DEMO_CATEGORIES = ["__background__", *DRIVING_CLASSES]
INPUT_SIZE = (640, 360)  # width, height the demo detector runs at without resizing
FPN_CHANNELS = 64
BOX_HEAD_WIDTH = 256


def _conv(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class CoordStage(nn.Sequential):
    """A stage whose input gets two more channels: the x and y of each cell in [-1, 1].

    The first convolution is made for the stage's own input and then widened by two input
    channels of zero weight, so a new model starts out blind to position (and draws the same
    random initialisation as without them); training decides what the coordinates are worth.
    """

    def __init__(self, *modules: nn.Module) -> None:
        super().__init__(*modules)
        conv = self.first_conv
        zeros = conv.weight.new_zeros((conv.out_channels, 2, *conv.kernel_size))
        conv.weight = nn.Parameter(torch.cat([conv.weight.detach(), zeros], dim=1))
        conv.in_channels += 2

    @property
    def first_conv(self) -> nn.Conv2d:
        return self[0][0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        xs = torch.linspace(-1.0, 1.0, w, device=x.device, dtype=x.dtype)
        ys = torch.linspace(-1.0, 1.0, h, device=x.device, dtype=x.dtype)
        coords = torch.stack(torch.meshgrid(xs, ys, indexing="xy"))  # (2, h, w): x, y
        return super().forward(torch.cat([x, coords.expand(n, 2, h, w)], dim=1))


def hold_coordinates(model: nn.Module) -> list:
    """Keep the weights of every coordinate channel where they are (gradient hooks that zero
    their gradient: AdamW then leaves a zero weight at zero). Returns the hooks' handles."""
    handles = []
    for module in model.modules():
        if isinstance(module, CoordStage):
            weight = module.first_conv.weight

            def zero_coordinates(grad: torch.Tensor) -> torch.Tensor:
                grad = grad.clone()
                grad[:, -2:] = 0.0
                return grad

            handles.append(weight.register_hook(zero_coordinates))
    return handles


class DemoBody(nn.Module):
    """Five stride-2 stages; stages 3-5 (strides 8, 16, 32) feed the FPN."""

    def __init__(self) -> None:
        super().__init__()
        self.stage1 = _conv(3, 16, 2)
        self.stage2 = nn.Sequential(_conv(16, 32, 2), _conv(32, 32))
        self.stage3 = CoordStage(_conv(32, 64, 2), _conv(64, 64))
        self.stage4 = CoordStage(_conv(64, 96, 2), _conv(96, 96))
        self.stage5 = CoordStage(_conv(96, 128, 2), _conv(128, 128))

    def forward(self, x):  # IntermediateLayerGetter walks the children; kept for clarity
        outputs = OrderedDict()
        for name, stage in self.named_children():
            x = stage(x)
            outputs[name] = x
        return outputs


def build_demo_detector(num_classes: int = len(DEMO_CATEGORIES)) -> FasterRCNN:
    """An untrained demo detector (load the bundled weights with ``load_model("demo")``)."""
    backbone = BackboneWithFPN(
        DemoBody(),
        return_layers={"stage3": "0", "stage4": "1", "stage5": "2"},
        in_channels_list=[64, 96, 128],
        out_channels=FPN_CHANNELS,
        extra_blocks=LastLevelMaxPool(),
    )
    # Zero padding makes every layer respond to the frame's border, and explanations then
    # light up the border; replicated edges carry no such artificial signal.
    for module in backbone.modules():
        if isinstance(module, nn.Conv2d) and module.padding != (0, 0):
            module.padding_mode = "replicate"
    # Road users span ~8 px (far pedestrians, traffic lights) to ~300 px (a near bus).
    anchors = AnchorGenerator(
        sizes=((12, 20), (32, 52), (84, 136), (220, 320)),
        aspect_ratios=((0.5, 1.0, 2.0, 3.0),) * 4,
    )
    width, height = INPUT_SIZE
    model = FasterRCNN(
        backbone,
        num_classes=None,
        min_size=height,
        max_size=width,
        rpn_anchor_generator=anchors,
        rpn_pre_nms_top_n_train=600,
        rpn_post_nms_top_n_train=300,
        rpn_pre_nms_top_n_test=300,
        rpn_post_nms_top_n_test=60,
        box_roi_pool=MultiScaleRoIAlign(["0", "1", "2"], output_size=7, sampling_ratio=2),
        box_head=TwoMLPHead(FPN_CHANNELS * 7 * 7, BOX_HEAD_WIDTH),
        box_predictor=FastRCNNPredictor(BOX_HEAD_WIDTH, num_classes),
        box_detections_per_img=50,
    )
    return model
