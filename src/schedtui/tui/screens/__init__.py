"""Console screens: the main view and its modal dialogs."""
