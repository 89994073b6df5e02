"""The MIME policy every outgoing message is built with: subjects that survive folding.

Python's header folder (``policy.SMTP``, which aiosmtplib flattens with) splits a non-ASCII
subject into several RFC 2047 encoded-words and loses or doubles the spaces between them: "Тест
ООД" arrived as "ТестООД", "nouveau téléphone (…)" as "nouveau  téléphone(…)". A localised
subject hits that all the time. Here a non-ASCII header is encoded as one run of UTF-8
encoded-words cut inside the text (``email.header.Header``), so every space is inside a word and
decoders give back exactly the subject. ASCII headers, and servers that take UTF-8 headers
(SMTPUTF8), keep the standard folding.
"""

from email import policy
from email.header import Header
from email.headerregistry import HeaderRegistry, UnstructuredHeader
from email.policy import Policy


class _EncodedAsOne(UnstructuredHeader):
    def fold(self, *, policy: Policy) -> str:  # type: ignore[override]
        value = str(self)
        if value.isascii() or getattr(policy, "utf8", False):
            return super().fold(policy=policy)  # type: ignore[misc,no-any-return]
        name = self.name  # type: ignore[attr-defined]
        encoded = Header(value, "utf-8", header_name=name).encode(linesep=policy.linesep)
        return f"{name}: {encoded}{policy.linesep}"


def _registry() -> HeaderRegistry:
    registry = HeaderRegistry()
    registry.map_to_type("subject", _EncodedAsOne)  # type: ignore[arg-type]  # a mixin, as stdlib
    return registry


MAIL_POLICY = policy.default.clone(header_factory=_registry())
