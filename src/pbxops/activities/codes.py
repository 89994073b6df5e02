"""One-time codes (deletion confirmation, and later eSIM activation) that history never sees.

A code is drawn with ``secrets``. The workflow keeps only its HMAC (the key lives in the worker's
settings), so nobody reading history, the UI or the logs can learn it. The code must still reach the
email step, and a retried email step must resend *the same* code (a second, different code would
confuse the Admins and break the Message-ID de-duplication). So the issuing activity also returns
the code sealed with AES-GCM under a key derived from the same secret, bound to the workflow run:
ciphertext in history, opened only inside the email activity, never stored in workflow state.

Nothing in history yields a code without PBXOPS_CODE_SECRET, which has no default
(docs/security.md): the HMAC and the seal are keyed by it, and the code the operator types to
confirm reaches history only sealed to the worker's X25519 public key (derived from the same
secret): the CLI encrypts it (``seal_for_worker``: an ephemeral key, HKDF, AES-GCM bound to the
run), the check opens it. So a wrong code, or another tenant's live code typed by mistake, is
ciphertext in history.
"""

import base64
import hashlib
import hmac
import os
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from temporalio import activity

from pbxops.activities.idempotency import workflow_of_activity
from pbxops.contracts.deletion import CodeCheck, DeletionActivities, IssueCode, IssuedCode


class CodeVault:
    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the code secret must be at least 16 bytes")
        self._mac_key = hashlib.sha256(b"pbxops/code-mac/" + secret).digest()
        self._seal = AESGCM(hashlib.sha256(b"pbxops/code-seal/" + secret).digest())
        self._box = X25519PrivateKey.from_private_bytes(
            hashlib.sha256(b"pbxops/code-box/" + secret).digest()
        )

    @staticmethod
    def new_numeric_code(digits: int = 8) -> str:
        return "".join(secrets.choice("0123456789") for _ in range(digits))

    def digest(self, code: str, context: str) -> str:
        """HMAC of the code, bound to its context (the workflow run) so digests never transfer."""
        return hmac.new(self._mac_key, f"{context}\n{code}".encode(), hashlib.sha256).hexdigest()

    def matches(self, code: str, context: str, expected_digest: str) -> bool:
        return hmac.compare_digest(self.digest(code, context), expected_digest)

    def seal(self, code: str, context: str) -> str:
        nonce = os.urandom(12)
        sealed = self._seal.encrypt(nonce, code.encode(), context.encode())
        return base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, sealed: str, context: str) -> str:
        raw = base64.urlsafe_b64decode(sealed.encode())
        return self._seal.decrypt(raw[:12], raw[12:], context.encode()).decode()

    def box_key(self) -> str:
        """The public key the CLI seals the operator's code to (safe to show anywhere)."""
        return _b64(self._box.public_key().public_bytes_raw())

    def open_box(self, sealed: str, context: str) -> str | None:
        """The code ``seal_for_worker`` sealed for this run; None if it does not open (tampered,
        another run's, or not sealed to this key): the caller counts it as a wrong code."""
        try:
            raw = base64.urlsafe_b64decode(sealed.encode())
            ephemeral, nonce, ciphertext = raw[:32], raw[32:44], raw[44:]
            shared = self._box.exchange(X25519PublicKey.from_public_bytes(ephemeral))
            key = _box_cipher_key(shared, ephemeral, self._box.public_key().public_bytes_raw())
            return AESGCM(key).decrypt(nonce, ciphertext, context.encode()).decode()
        except (ValueError, InvalidTag, UnicodeDecodeError):
            return None


def seal_for_worker(code: str, box_key: str, context: str) -> str:
    """The operator's code, encrypted so that only the worker (PBXOPS_CODE_SECRET) can read it,
    for the run ``context`` only. A fresh ephemeral key each time: the same code seals differently,
    so nobody can test guesses against history."""
    worker = base64.urlsafe_b64decode(box_key.encode())
    ephemeral = X25519PrivateKey.generate()
    ephemeral_public = ephemeral.public_key().public_bytes_raw()
    shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(worker))
    nonce = os.urandom(12)
    sealed = AESGCM(_box_cipher_key(shared, ephemeral_public, worker)).encrypt(
        nonce, code.encode(), context.encode()
    )
    return _b64(ephemeral_public + nonce + sealed)


def _box_cipher_key(shared: bytes, ephemeral_public: bytes, worker_public: bytes) -> bytes:
    info = b"pbxops/confirm-box/" + ephemeral_public + worker_public
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(shared)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()


def run_context() -> str:
    """Codes are bound to the workflow run that issued them: a digest never transfers."""
    _, workflow_id, run_id = workflow_of_activity()
    return f"{workflow_id}/{run_id}"


class CodeActivities:
    def __init__(self, vault: CodeVault) -> None:
        self._vault = vault

    @activity.defn(name=DeletionActivities.ISSUE_CODE)
    async def issue(self, request: IssueCode) -> IssuedCode:
        """A fresh code; a retry of this step makes another one, harmless as none was sent yet."""
        code = self._vault.new_numeric_code(request.digits)
        context = run_context()
        return IssuedCode(
            digest=self._vault.digest(code, context),
            sealed=self._vault.seal(code, context),
            box_key=self._vault.box_key(),
        )

    @activity.defn(name=DeletionActivities.CHECK_CODE)
    async def check(self, check: CodeCheck) -> bool:
        """Constant-time comparison of HMACs (run as a local activity from the Update); a sealed
        code is opened first, and one that does not open is simply wrong."""
        context = run_context()
        code: str | None = check.code
        if check.sealed is not None:
            code = self._vault.open_box(check.sealed, context)
        return code is not None and self._vault.matches(code, context, check.digest)
