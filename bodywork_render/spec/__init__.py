"""The spec: bodywork.yaml and its overlays loaded with positions, validated, and built into the model."""
