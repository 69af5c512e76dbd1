#!/usr/bin/env bash
# The CPU goal on 2 cores: the end-to-end pipeline (decode -> detect + Grad-CAM for 5
# detections with adaptive reuse -> render -> H.264) at >= 0.8x the detection-only rate
# (pipeline_over_detect_fps in the output), on the real 960x540 clip with random weights.
# Usage: benchmarks/cpu_pipeline.sh [CLIP] [FRAMES] [extra bench options]
set -euo pipefail
clip=${1:-../shared/media/solidWhiteRight.mp4}
frames=${2:-60}
shift $(( $# > 2 ? 2 : $# ))
live-explain bench "$clip" --json --model fasterrcnn_mobilenet_v3_large_320_fpn --weights none \
  --device cpu --score-thresh 0 --topk 5 --max-frames "$frames" "$@"
