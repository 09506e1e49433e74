"""Every failure a user can cause or fix is a DiptychError with a one-line message."""


class DiptychError(Exception):
    """Root of the errors that the CLI turns into one readable line."""


class ConfigError(DiptychError):
    """A setting has a value that is not allowed."""


class DropError(DiptychError):
    """A drop in the inbox cannot be claimed."""


class AudioDecodeError(DiptychError):
    """A recording cannot be decoded or is not usable speech audio."""


class AudioEncodeError(DiptychError):
    """The published MP3 cannot be written (the encoder is missing or failed)."""


class ArticleError(DiptychError):
    """An article cannot be read."""


class TranscriptionError(DiptychError):
    """The speech model is missing, broken or failed."""


class PairingError(DiptychError):
    """The article and transcript cannot be paired."""


class ReviewError(DiptychError):
    """A review action is not possible (stale version, bad slug, wrong state)."""


class PublishError(DiptychError):
    """The site or feed cannot be built."""


class WordPressError(PublishError):
    """The creator's WordPress blog refused a request or did not answer."""


class EpisodeNotFound(DiptychError):
    """No episode workspace has that slug."""


class ServiceError(DiptychError):
    """A server that `diptych up` starts or uses (Prefect's, the review page's) cannot start or be reached."""


class OutputError(DiptychError):
    """The project's output folder cannot be written (read-only, no permission)."""
