"""The one exception of DeepRacer model files."""


class DeepRacerError(Exception):
    """A DeepRacer model file, folder or tarball that cannot be read or written; str() is one line naming it."""
