"""Engine layers, one family per file.  ``LAYER_TYPES`` maps a layer's type name to its class."""
