"""Publishing to the creator's WordPress blog: a post per episode, its media in the library, its
enclosure in the blog's own feed."""

from pipeline.errors import WordPressError
from pipeline.publish.wordpress.post import (
    WordPressResult,
    draft_on_wordpress,
    has_post,
    publish_to_wordpress,
    wants_post,
)
from pipeline.publish.wordpress.secret import PASSWORD_ENV, read_password

__all__ = [
    "PASSWORD_ENV",
    "WordPressError",
    "WordPressResult",
    "draft_on_wordpress",
    "has_post",
    "publish_to_wordpress",
    "read_password",
    "wants_post",
]
