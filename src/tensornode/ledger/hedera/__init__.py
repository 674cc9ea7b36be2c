"""The Hedera ledger and score log (hiero-sdk-python).

``operator``      the treasury operator's account and key (environment or a 0600 file)
``network``       the SDK client for mainnet/testnet/previewnet or a custom node list, and
                  the one place SDK and gRPC errors become :class:`~tensornode.errors.LedgerError`
``transactions``  transfers and topic messages built, frozen, signed, serialised, parsed back
``mirror``        the mirror node's REST API: transactions, balances, keys, tokens, topics
``models``        the payments and transactions persisted before anything is submitted
``ledger``        :class:`HederaLedger`: the :class:`~tensornode.ledger.base.Ledger` on Hedera
``score_log``     the HCS score log: one message per epoch, validator registry messages
``verify``        ``tensornode epoch verify N --hedera``: the chain and the transfers checked
"""
