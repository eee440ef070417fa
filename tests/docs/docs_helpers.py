"""What the documentation tests share."""

# every subpackage (and module) of propmap with an API page
SUBPACKAGES = (
    "atomistic",
    "cli",
    "clustering",
    "datasets",
    "decomposition",
    "exceptions",
    "feature_selection",
    "linear_model",
    "metrics",
    "model_selection",
    "neighbors",
    "preprocessing",
    "sample_selection",
    "selection",
    "utils",
    "viz",
    "workflows",
)
