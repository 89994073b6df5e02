"""Per-job callback credentials: what makes a callback URL unforgeable with the platform token.

Every operator's CLI holds ``PBXOPS_PLATFORM_TOKEN``, so the bearer token alone cannot tell the
platform from an operator. When the worker hands the platform a callback URL (starting a job,
registering a mobile line) it embeds ``ref`` (an opaque id of that one job or line) and ``sig``,
an HMAC-SHA256 of (kind, workflow id, ref) keyed by ``PBXOPS_CALLBACK_SECRET``, which only the
worker holds. The platform sends the URL back as it got it; the receiver recomputes the HMAC and
compares in constant time. Nothing stored in Temporal's history carries the URL.
"""

import base64
import hashlib
import hmac
import json
from urllib.parse import quote, urlencode

REF_PARAM = "ref"
SIG_PARAM = "sig"
_DOMAIN = "pbxops-callback-v1"


def job_ref(key: str) -> str:
    """A short opaque reference for one job, from its idempotency key (stable across retries)."""
    return hashlib.sha256(key.encode()).hexdigest()[:24]


class CallbackSigner:
    def __init__(self, secret: bytes) -> None:
        if not secret:
            raise ValueError("the callback secret is empty")
        self._key = hashlib.sha256(_DOMAIN.encode() + b"\0" + secret).digest()

    def signature(self, kind: str, workflow_id: str, ref: str) -> str:
        # JSON of the three parts: no separator inside an id can make two inputs collide.
        message = json.dumps([kind, workflow_id, ref], ensure_ascii=True).encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def verify(self, kind: str, workflow_id: str, ref: str, signature: str) -> bool:
        expected = self.signature(kind, workflow_id, ref).encode()
        return hmac.compare_digest(expected, signature.encode("utf-8", "replace"))

    def url(self, base_url: str, kind: str, workflow_id: str, ref: str) -> str:
        """``<base>/callbacks/<kind>/<workflow id, percent-encoded once>?ref=…&sig=…``"""
        query = urlencode({REF_PARAM: ref, SIG_PARAM: self.signature(kind, workflow_id, ref)})
        return f"{base_url.rstrip('/')}/callbacks/{kind}/{quote(workflow_id, safe='')}?{query}"
