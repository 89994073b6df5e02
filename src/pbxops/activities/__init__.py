"""Side effects, one module per outside system. Classes take their clients in the constructor."""
