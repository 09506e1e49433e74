"""Reading the creator's article. Takes a Markdown, HTML or plain-text file with optional YAML front
matter (WordPress shortcodes, odd encodings and typography included); gives a typed `Article`:
title, front matter, language, sanitized HTML and the blocks that pairing matches, plus the pictures
it shows (found and checked here; copying them is publishing's).
"""

from pipeline.article.frontmatter import decode_text, read_front_matter
from pipeline.article.html import Node, keep_safe_image_src, parse_tree
from pipeline.article.images import (
    ArticleImages,
    copy_images,
    episode_images,
    find_images,
    image_refs,
    inside_folder,
    is_image_file,
    local_image_ref,
    publish_article,
    record_image_warnings,
    site_path,
)
from pipeline.article.reader import Article, ArticleBlock, read_article, read_image_refs
from pipeline.article.typography import fold

__all__ = [
    "Article",
    "ArticleBlock",
    "ArticleImages",
    "copy_images",
    "decode_text",
    "episode_images",
    "find_images",
    "fold",
    "image_refs",
    "inside_folder",
    "is_image_file",
    "keep_safe_image_src",
    "local_image_ref",
    "Node",
    "parse_tree",
    "publish_article",
    "read_article",
    "read_front_matter",
    "read_image_refs",
    "record_image_warnings",
    "site_path",
]
