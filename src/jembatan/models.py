"""Every capability"s tables, imported in one place for migrations and tests."""

from jembatan.accounts.models import ApiToken, RecoveryCode, User, WebSession
from jembatan.agreements.models import Agreement, AgreementSignature
from jembatan.exchange.models import Delivery, Message, Transfer
from jembatan.gateway.models import AccessRight, Call, Endpoint, Service
from jembatan.health.models import Count, Report, Signal
from jembatan.ledger.models import (
    Checkpoint,
    Cosignature,
    LedgerAlert,
    LedgerEntry,
    LedgerHead,
    LedgerTile,
    LedgerTree,
    WitnessedLog,
)
from jembatan.node.models import NodeIdentity, NodeKey
from jembatan.registry.models import (
    Anchor,
    DirectoryCopy,
    JoinRequest,
    RegistryKey,
    RegistryMember,
    RegistryService,
    RegistryState,
    RegistrySubsystem,
    SeenNonce,
    TrustedInstance,
)
from jembatan.workspaces.models import (
    Notification,
    Workspace,
    WorkspaceEvent,
    WorkspaceFile,
    WorkspaceIntake,
    WorkspaceText,
)

__all__ = [
    "AccessRight",
    "Agreement",
    "AgreementSignature",
    "Anchor",
    "ApiToken",
    "Call",
    "Checkpoint",
    "Cosignature",
    "Count",
    "Delivery",
    "DirectoryCopy",
    "Endpoint",
    "JoinRequest",
    "LedgerAlert",
    "LedgerEntry",
    "LedgerHead",
    "LedgerTile",
    "LedgerTree",
    "Message",
    "NodeIdentity",
    "NodeKey",
    "Notification",
    "RecoveryCode",
    "RegistryKey",
    "RegistryMember",
    "RegistryService",
    "RegistryState",
    "RegistrySubsystem",
    "Report",
    "SeenNonce",
    "Service",
    "Signal",
    "Transfer",
    "TrustedInstance",
    "User",
    "WebSession",
    "WitnessedLog",
    "Workspace",
    "WorkspaceEvent",
    "WorkspaceFile",
    "WorkspaceIntake",
    "WorkspaceText",
]
