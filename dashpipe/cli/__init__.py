"""The ``dashpipe`` command line."""
