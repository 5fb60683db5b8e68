"""The portal's date and time formats (``FORMAT_MODULE_PATH``): one way to write a moment on every page."""
