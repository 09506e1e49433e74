"""A WordPress blog as diptych talks to it: the REST API (media, posts, terms) and, for the custom
fields a stock WordPress keeps out of REST, XML-RPC's wp.getPost/wp.editPost.

Every call authenticates with an application password (HTTP basic auth; XML-RPC takes it as the
password argument). Every failure is a WordPressError: one line naming the blog and what to do.
The password never appears in a message or a log line.
"""

from __future__ import annotations

import logging
import xmlrpc.client
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from pipeline.errors import WordPressError

log = logging.getLogger(__name__)

# The post types and statuses diptych looks through when it searches for an episode's post.
EDITABLE_STATUSES = "publish,future,draft,pending,private"
WHAT_TO_DO_AGAIN = "then run 'diptych publish --to wordpress' again"
# What WordPress or the plugins that close its REST API answer then.
REST_OFF_CODES = frozenset({"rest_disabled", "rest_no_route", "rest_cannot_access", "rest_login_required"})


@dataclass(frozen=True)
class Credentials:
    url: str  # the blog's address, without a trailing slash
    user: str
    password: SecretStr  # an application password (Users → Profile → Application Passwords)


@dataclass(frozen=True)
class Media:
    id: int
    url: str
    mime_type: str


@dataclass(frozen=True)
class Post:
    id: int
    link: str
    status: str
    content: str  # raw (as stored), context=edit
    featured_media: int


def _message(response: httpx.Response) -> tuple[str, str]:
    """WordPress's error code and message from a REST answer (or the HTTP reason)."""
    try:
        body = response.json()
    except ValueError:
        return "", response.reason_phrase
    if isinstance(body, dict):
        return str(body.get("code", "")), str(body.get("message", response.reason_phrase))
    return "", response.reason_phrase


class WordPressClient:
    """One blog, one user. Use as a context manager (it holds an HTTP connection pool)."""

    def __init__(
        self, creds: Credentials, *, timeout_s: float = 60.0, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.creds = creds
        self.blog = creds.url
        self._http = httpx.Client(
            auth=(creds.user, creds.password.get_secret_value()),
            timeout=httpx.Timeout(timeout_s, connect=10.0),
            headers={"User-Agent": "diptych"},
            follow_redirects=True,
            transport=transport,
        )

    def __enter__(self) -> WordPressClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.close()

    # --- plumbing ---------------------------------------------------------------------------------

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._http.request(method, url, **kwargs)
        except httpx.TimeoutException as exc:
            raise WordPressError(
                f"WordPress at {self.blog} did not answer in time ({type(exc).__name__}): check that the "
                f"blog is up, {WHAT_TO_DO_AGAIN}"
            ) from exc
        except httpx.HTTPError as exc:
            raise WordPressError(
                f"WordPress at {self.blog} does not answer ({type(exc).__name__}: {exc}): check "
                f"wordpress.url in diptych.toml and that the blog is up, {WHAT_TO_DO_AGAIN}"
            ) from exc

    def rest(self, method: str, route: str, *, params: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """A REST call by route ('/wp/v2/posts'), through ?rest_route= so that it works whatever the
        blog's permalinks; returns the decoded JSON or raises WordPressError."""
        query = {"rest_route": route, **(params or {})}
        response = self._send(method, f"{self.blog}/", params=query, **kwargs)
        if response.status_code >= 500 and not response.headers.get("content-type", "").startswith(
            "application/json"
        ):
            raise WordPressError(
                f"WordPress at {self.blog} answers HTTP {response.status_code} ({response.reason_phrase}): "
                f"the blog is down or broken; check it, {WHAT_TO_DO_AGAIN}"
            )
        if response.is_error:
            raise self._refused(response, route)
        try:
            return response.json()
        except ValueError as exc:
            raise self._no_rest(f"{route} answered something that is not JSON") from exc

    def _no_rest(self, why: str) -> WordPressError:
        return WordPressError(
            f"WordPress at {self.blog}: its REST API is off or blocked ({why}); turn it on again (a "
            f"security plugin or the web server blocks it), {WHAT_TO_DO_AGAIN}"
        )

    def _refused(self, response: httpx.Response, route: str) -> WordPressError:
        code, message = _message(response)
        if code in REST_OFF_CODES or (not code and response.status_code in (401, 403, 404, 405, 410)):
            # Not WordPress answering (a web server or firewall rule), or a plugin closing the API.
            return self._no_rest(f"{route}: HTTP {response.status_code} {code or response.reason_phrase}")
        if code == "incorrect_password":
            return self._wrong_password()
        if code in ("invalid_username", "invalid_email"):
            return self._no_user()
        if response.status_code == 401:
            return self.login_problem()
        if response.status_code == 403:
            return WordPressError(
                f"WordPress at {self.blog}: user '{self.creds.user}' may not do this ({message}); give the "
                f"user the Author role or higher, {WHAT_TO_DO_AGAIN}"
            )
        return WordPressError(f"WordPress at {self.blog} refused {route}: {message} (HTTP {response.status_code})")

    def _wrong_password(self) -> WordPressError:
        return WordPressError(
            f"WordPress at {self.blog} refused the application password of user '{self.creds.user}': "
            "make a new one (Users → Profile → Application Passwords) and put it in "
            "DIPTYCH_WORDPRESS_PASSWORD or the file that wordpress.password_file names"
        )

    def _no_user(self) -> WordPressError:
        return WordPressError(
            f"WordPress at {self.blog} has no user '{self.creds.user}': set wordpress.user in diptych.toml "
            "to your login name on the blog"
        )

    def login_problem(self) -> WordPressError:
        """A 401 without WordPress saying why (WordPress 6.1 checks the application password after it
        decides): the blog's public author archive tells a missing user from a wrong password."""
        if "@" in self.creds.user:  # an e-mail address has no author archive to ask
            return WordPressError(
                f"WordPress at {self.blog} refused user '{self.creds.user}' with this application password: "
                "check wordpress.user in diptych.toml and make a new application password if needed"
            )
        probe = self._send("GET", f"{self.blog}/", params={"author_name": self.creds.user})
        if probe.status_code == 404:
            return self._no_user()
        return self._wrong_password()

    # --- the blog ---------------------------------------------------------------------------------

    def check(self) -> None:
        """The REST API answers and knows the user: before anything is uploaded."""
        index = self.rest("GET", "/")
        if not isinstance(index, dict) or "wp/v2" not in index.get("namespaces", []):
            raise self._no_rest("its index lists no wp/v2 routes")
        me = self.rest("GET", "/wp/v2/users/me", params={"context": "edit"})
        if not isinstance(me, dict) or not me.get("id"):
            raise self.login_problem()
        caps = me.get("capabilities", {})
        missing = [c for c in ("upload_files", "edit_posts") if not caps.get(c)]
        if missing:
            raise WordPressError(
                f"WordPress at {self.blog}: user '{self.creds.user}' cannot {' or '.join(missing)}; give the "
                f"user the Author role or higher, {WHAT_TO_DO_AGAIN}"
            )

    # --- media ------------------------------------------------------------------------------------

    def upload_media(self, path: Path, *, name: str, mime_type: str) -> Media:
        """POST the file's bytes to /wp/v2/media under `name`."""
        size = path.stat().st_size
        headers = {"Content-Disposition": f'attachment; filename="{name}"', "Content-Type": mime_type}
        response = self._send(
            "POST", f"{self.blog}/", params={"rest_route": "/wp/v2/media"}, content=path.read_bytes(),
            headers=headers,
        )
        if response.is_error:
            raise self._media_refused(response, name, size)
        body = response.json()
        return Media(int(body["id"]), str(body["source_url"]), str(body.get("mime_type", mime_type)))

    def _media_refused(self, response: httpx.Response, name: str, size: int) -> WordPressError:
        code, message = _message(response)
        too_big = response.status_code == 413 or code in ("rest_upload_file_too_big", "rest_upload_limited_space")
        if too_big or (code == "rest_upload_sideload_error" and "too big" in message.lower()):
            return WordPressError(
                f"WordPress at {self.blog} refused {name} ({size / 1e6:.1f} MB): it is larger than the blog "
                f"accepts ({message}); raise the blog's upload limit (or ask your host), {WHAT_TO_DO_AGAIN}"
            )
        if code == "rest_upload_sideload_error" and "file type" in message.lower():
            return MediaTypeRefused(
                f"WordPress at {self.blog} does not accept {Path(name).suffix} files ({message})"
            )
        return self._refused(response, "/wp/v2/media")

    def media_items(self, ids: list[int]) -> dict[int, Media]:
        """Which of these attachments still exist on the blog."""
        found: dict[int, Media] = {}
        for start in range(0, len(ids), 100):
            chunk = ids[start : start + 100]
            items = self.rest(
                "GET", "/wp/v2/media",
                params={"include": ",".join(map(str, chunk)), "per_page": 100, "context": "edit"},
            )
            for item in items:
                found[int(item["id"])] = Media(int(item["id"]), item["source_url"], item["mime_type"])
        return found

    def delete_media(self, media_id: int) -> None:
        self.rest("DELETE", f"/wp/v2/media/{media_id}", params={"force": "true"})

    # --- posts ------------------------------------------------------------------------------------

    def get_post(self, post_id: int) -> Post | None:
        """The post, or None if it is gone (deleted or in the trash)."""
        response = self._send(
            "GET", f"{self.blog}/", params={"rest_route": f"/wp/v2/posts/{post_id}", "context": "edit"}
        )
        if response.status_code in (404, 410):
            code, _ = _message(response)
            if code == "rest_post_invalid_id":
                return None
        if response.is_error:
            raise self._refused(response, f"/wp/v2/posts/{post_id}")
        post = _post(response.json())
        return None if post.status == "trash" else post

    def find_posts(self, text: str) -> list[Post]:
        """Posts (any status but trash) whose title or content holds `text`."""
        items = self.rest(
            "GET", "/wp/v2/posts",
            params={"search": text, "status": EDITABLE_STATUSES, "context": "edit", "per_page": 20},
        )
        return [_post(item) for item in items]

    def save_post(self, post_id: int | None, fields: dict[str, Any]) -> Post:
        route = "/wp/v2/posts" if post_id is None else f"/wp/v2/posts/{post_id}"
        return _post(self.rest("POST", route, json=fields, params={"context": "edit"}))

    def term_id(self, taxonomy: str, name: str) -> int:
        """The category or tag called `name` ('categories' or 'tags'), made if the blog has none."""
        for item in self.rest("GET", f"/wp/v2/{taxonomy}", params={"search": name, "per_page": 100}):
            if str(item.get("name", "")).strip().lower() == name.strip().lower():
                return int(item["id"])
        try:
            return int(self.rest("POST", f"/wp/v2/{taxonomy}", json={"name": name})["id"])
        except WordPressError as exc:
            kind = "category" if taxonomy == "categories" else "tag"
            raise WordPressError(
                f"WordPress at {self.blog} has no {kind} '{name}' and user '{self.creds.user}' cannot make "
                f"one: create it on the blog (Posts → {taxonomy.title()}), {WHAT_TO_DO_AGAIN}"
            ) from exc

    # --- custom fields (XML-RPC) -------------------------------------------------------------------

    def _xmlrpc(self, method: str, *args: Any) -> Any:
        params = (0, self.creds.user, self.creds.password.get_secret_value(), *args)
        body = xmlrpc.client.dumps(params, methodname=method, allow_none=False)
        response = self._send(
            "POST", f"{self.blog}/xmlrpc.php", content=body.encode("utf-8"),
            headers={"Content-Type": "text/xml; charset=utf-8"},
        )
        if response.status_code in (403, 404, 405) or "xml" not in response.headers.get("content-type", ""):
            raise self._no_xmlrpc(f"HTTP {response.status_code}")
        try:
            return xmlrpc.client.loads(response.content)[0][0]
        except xmlrpc.client.Fault as fault:
            raise self._fault(fault) from fault
        except (xmlrpc.client.ResponseError, xmlrpc.client.ProtocolError, ValueError) as exc:
            raise self._no_xmlrpc(f"not an XML-RPC answer: {type(exc).__name__}") from exc

    def _no_xmlrpc(self, why: str) -> WordPressError:
        return WordPressError(
            f"WordPress at {self.blog}: XML-RPC is off or blocked ({why}), and the episode's enclosure "
            "custom field needs it (WordPress's REST API drops custom fields no plugin registered); "
            f"turn xmlrpc.php on again, {WHAT_TO_DO_AGAIN}"
        )

    def _fault(self, fault: xmlrpc.client.Fault) -> WordPressError:
        if fault.faultCode == 403 and "username or password" in fault.faultString.lower():
            return self.login_problem()
        if fault.faultCode == 405:
            return self._no_xmlrpc(fault.faultString)
        return WordPressError(f"WordPress at {self.blog} refused the custom fields: {fault.faultString}")

    def custom_fields(self, post_id: int) -> list[dict[str, str]]:
        """The post's custom fields as XML-RPC gives them: [{'id', 'key', 'value'}]."""
        post = self._xmlrpc("wp.getPost", post_id, ["custom_fields"])
        return list(post.get("custom_fields", []))

    def set_custom_fields(self, post_id: int, values: dict[str, str]) -> None:
        """Each key holds exactly its value afterwards (one entry each); other fields are kept."""
        existing: dict[str, list[dict[str, str]]] = {}
        for field in self.custom_fields(post_id):
            existing.setdefault(field["key"], []).append(field)
        changes: list[dict[str, str]] = []
        for key, value in values.items():
            current = existing.get(key, [])
            if len(current) == 1 and current[0]["value"] == value:
                continue
            if current:  # an id with key and value updates that entry; an id alone deletes one
                changes.append({"id": current[0]["id"], "key": key, "value": value})
                changes += [{"id": f["id"]} for f in current[1:]]
            else:
                changes.append({"key": key, "value": value})
        if changes:
            self._xmlrpc("wp.editPost", post_id, {"custom_fields": changes})


class MediaTypeRefused(WordPressError):
    """The blog does not accept this kind of file (WordPress's allowed upload types)."""


def _post(item: dict[str, Any]) -> Post:
    content = item.get("content", {})
    raw = content.get("raw", content.get("rendered", "")) if isinstance(content, dict) else str(content)
    return Post(
        id=int(item["id"]),
        link=str(item.get("link", "")),
        status=str(item.get("status", "")),
        content=str(raw),
        featured_media=int(item.get("featured_media") or 0),
    )
