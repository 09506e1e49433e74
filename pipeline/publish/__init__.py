"""Publishing. Takes approved episodes (audio, current transcript, pairing, article and pictures);
gives the static site in `output/site/`: the home page, `feed.xml`, and per episode the page, the
MP3, transcripts in every format, chapters and pictures. Also serves the site locally for preview.
The creator's WordPress blog is the other target: `pipeline.publish.wordpress` (its own face).
"""

from pipeline.publish.build import is_unpublished, publish_site, unpublish_episode
from pipeline.publish.pages import code_sha256
from pipeline.publish.preview import serve_site

__all__ = [
    "code_sha256",
    "is_unpublished",
    "publish_site",
    "serve_site",
    "unpublish_episode",
]
