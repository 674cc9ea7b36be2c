"""The SDK client for a Hedera network, and SDK errors translated into ours.

Named networks (mainnet, testnet, previewnet) use the SDK's address book and TLS; a
``custom`` network is the node list in settings (a local node, a fake one in tests),
plaintext gRPC. Retries of BUSY and other retryable statuses, with exponential backoff
between ``min_backoff_s`` and ``max_backoff_s``, are the SDK's, configured here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tensornode.config import HederaSettings
from tensornode.errors import LedgerError
from tensornode.ledger.hedera.operator import Operator

# statuses after which the transaction certainly did not reach consensus
NEVER_EXECUTED = {
    "INVALID_TRANSACTION",
    "PAYER_ACCOUNT_NOT_FOUND",
    "INVALID_NODE_ACCOUNT",
    "TRANSACTION_EXPIRED",
    "INVALID_TRANSACTION_START",
    "INVALID_TRANSACTION_DURATION",
    "INVALID_SIGNATURE",
    "MEMO_TOO_LONG",
    "INSUFFICIENT_TX_FEE",
    "INSUFFICIENT_PAYER_BALANCE",
    "INVALID_TRANSACTION_BODY",
}


def status_name(code: int) -> str:
    """Hedera's name of a response code (``22`` → ``SUCCESS``)."""
    from hiero_sdk_python.response_code import ResponseCode

    return str(ResponseCode(code).name)


def build_client(settings: HederaSettings, operator: Operator) -> Any:
    """An SDK ``Client`` for the configured network, its operator set, retries configured."""
    from hiero_sdk_python.account.account_id import AccountId
    from hiero_sdk_python.client.client import Client
    from hiero_sdk_python.client.network import Network

    with sdk_errors("connecting to Hedera"):
        if settings.network == "custom":
            nodes = {addr: AccountId.from_string(acct) for addr, acct in settings.nodes.items()}
            client = Client.for_network(nodes, "custom")
        else:
            client = Client(Network(settings.network))
        client.set_operator(AccountId.from_string(operator.account_id), operator.key)
        client.max_attempts = settings.max_attempts
        client.set_min_backoff(settings.min_backoff_s)
        client.set_max_backoff(settings.max_backoff_s)
        client.set_grpc_deadline(settings.grpc_deadline_s)
    return client


def close_client(client: Any) -> None:
    """Close the client's gRPC channels."""
    for node in client.network.nodes:
        node._close()  # the SDK closes channels only through this
    client.network._close_mirror_node()


@contextmanager
def sdk_errors(what: str) -> Iterator[None]:
    """SDK and gRPC exceptions raised inside become :class:`LedgerError` naming ``what``."""
    import grpc
    from hiero_sdk_python.exceptions import MaxAttemptsError, PrecheckError, ReceiptStatusError

    try:
        yield
    except (PrecheckError, ReceiptStatusError) as exc:
        name = exc.status.name
        raise LedgerError(f"{what}: Hedera answered {name}", code=name) from None
    except MaxAttemptsError as exc:
        last = exc.last_error
        code = getattr(getattr(last, "status", None), "name", None)
        why = code or _grpc_reason(last) or "no answer"
        raise LedgerError(f"{what}: gave up after retries ({why})", code=code) from None
    except grpc.RpcError as exc:
        raise LedgerError(f"{what}: {_grpc_reason(exc)}") from None
    except (ValueError, TypeError, RuntimeError) as exc:
        raise LedgerError(f"{what}: {exc.__class__.__name__}: {exc}") from None


def _grpc_reason(exc: object) -> str | None:
    import grpc

    if isinstance(exc, grpc.RpcError) and hasattr(exc, "code"):
        return f"gRPC {exc.code().name}"
    return None if exc is None else exc.__class__.__name__
