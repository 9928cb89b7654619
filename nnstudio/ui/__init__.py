"""The desktop GUI (the only package that imports Qt): main window, node editor, panels and canvas."""
