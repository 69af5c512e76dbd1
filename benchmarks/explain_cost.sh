#!/usr/bin/env bash
# What per-detection maps cost on top of detection: the CPU goal is
# explained_ms <= 1.3 x detect_ms for 10 detections on the real clip, with random weights.
# Usage: benchmarks/explain_cost.sh [CLIP] [FRAMES]
set -euo pipefail
clip=${1:-../shared/media/solidWhiteRight.mp4}
frames=${2:-40}
for method in gradcam gradcam++ hirescam; do
  live-explain bench "$clip" --json --weights none --device cpu --score-thresh 0 --topk 10 \
    --method "$method" --max-frames "$frames"
done
