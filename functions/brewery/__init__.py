"""The brewery's Python actions. Each module has ``main(args)`` and deploys as a zip with
``common.py`` beside it (see ``manifest.yaml``); tests import them as a package."""
