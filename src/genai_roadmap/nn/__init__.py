"""PyTorch model definitions, one file per family, written like nanoGPT's model.py: one small class per concept,
tensor shapes in comments. `mlp` (fully connected nets), `cnn` (an airbench-style CIFAR classifier configured by
its stages), `plain_cnn` (the depth-configurable CNN of the 2.3.1 ablation), `backbones` (pretrained feature
extractors)."""
