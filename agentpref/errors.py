"""Errors a user can act on. The CLI turns each into its `exit_code`: 2 bad input, 3 a backend failed."""

from __future__ import annotations


class AgentprefError(Exception):
    """Base of every error agentpref raises on purpose."""

    exit_code = 1


class InputError(AgentprefError, ValueError):
    """Bad input from the user: a file, folder, field or value. The message names it."""

    exit_code = 2


class ImageError(InputError):
    """An image that cannot be used (corrupt, not an image, too large, empty)."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


class ParseError(AgentprefError, ValueError):
    """Model text that cannot be read, even after tolerating the format's usual drift."""

    exit_code = 3

    def __init__(self, message: str, raw_text: str) -> None:
        preview = raw_text if len(raw_text) <= 400 else raw_text[:400] + "..."
        super().__init__(f"{message}\n--- raw model text ---\n{preview}")
        self.raw_text = raw_text


class BackendError(AgentprefError, RuntimeError):
    """A backend (model server, generator, library) failed; the message names the backend."""

    exit_code = 3
