"""Every capability's tables, imported in one place for migrations and tests."""

from jembatan.accounts.models import ApiToken, RecoveryCode, User, WebSession
from jembatan.node.models import NodeIdentity

__all__ = ["ApiToken", "NodeIdentity", "RecoveryCode", "User", "WebSession"]
