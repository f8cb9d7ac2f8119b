"""The UPS SCU (PS3.4 Annex CC): every operation of the Push, Pull, Watch and Query SOP classes
over one association, with the command fields and Action Information each one must carry.

Each operation uses the presentation context dcm4che ``upsscu`` users expect (create, get and
request cancel: Push; update and change state: Pull; subscriptions: Watch; find: Query) and falls
back to another UPS context the SCP accepted that allows the service (UPS-02).  The command
always names the Push SOP class, except C-FIND, which names the context's class (UPS-05/06).
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any, Final, final

from .._uids import (
    EXPLICIT_VR_LITTLE_ENDIAN,
    IMPLICIT_VR_LITTLE_ENDIAN,
    UPS_EVENT,
    UPS_FILTERED_GLOBAL_SUBSCRIPTION_INSTANCE,
    UPS_GLOBAL_SUBSCRIPTION_INSTANCE,
    UPS_PULL,
    UPS_PUSH,
    UPS_QUERY,
    UPS_WATCH,
    VERIFICATION,
)
from ..dimse import Dataset, Priority, Tag, copy_data_set, generate_uid
from ..errors import NoAcceptedContext
from ..ul import PresentationContextProposal
from ._association import Association, Timeouts
from ._client import open_association
from ._receiver import EventReceiver
from ._services import (
    DataSetArg,
    DIMSEResponse,
    FindResults,
    c_echo,
    c_find,
    n_action,
    n_create,
    n_get,
    n_set,
)
from ._transport import SocketOptions

#: Operation -> the abstract syntaxes it may use, preferred first (UPS-02, UPS-04).
DEFAULT_CONTEXTS: Final[Mapping[str, tuple[str, ...]]] = {
    "create": (UPS_PUSH,),
    "get": (UPS_PUSH, UPS_PULL, UPS_WATCH),
    "set": (UPS_PULL,),
    "change_state": (UPS_PULL,),
    "request_cancel": (UPS_PUSH, UPS_WATCH),
    "subscribe": (UPS_WATCH,),
    "find": (UPS_QUERY, UPS_PULL, UPS_WATCH),
}
#: Action Type IDs (PS3.4 Table CC.2.2-1 ... CC.2.3-1).
CHANGE_STATE, REQUEST_CANCEL, SUBSCRIBE, UNSUBSCRIBE, SUSPEND_GLOBAL = 1, 2, 3, 4, 5


def ups_contexts(transfer_syntaxes: tuple[str, ...] = (EXPLICIT_VR_LITTLE_ENDIAN,
                                                       IMPLICIT_VR_LITTLE_ENDIAN),
                 ) -> tuple[PresentationContextProposal, ...]:
    """What a UPS SCU proposes: Push, Pull, Watch, Query, UPS Event (so the SCP may send event
    reports on this association) and Verification."""
    return tuple(PresentationContextProposal(abstract_syntax=syntax,
                                             transfer_syntaxes=transfer_syntaxes)
                 for syntax in (UPS_PUSH, UPS_PULL, UPS_WATCH, UPS_QUERY, UPS_EVENT,
                                VERIFICATION))


def _tag(attribute: int | str) -> int:
    return int(Tag(attribute))


def _information(**values: Any) -> Dataset:
    ds = Dataset()
    for keyword, value in values.items():
        if value is not None:
            setattr(ds, keyword, value)
    return ds


@final
class UPSClient:
    """A UPS SCU on an established association.

    Args:
        association: an association on which the UPS contexts were negotiated (see
            :func:`ups_contexts` and :meth:`connect`).
        contexts: overrides of :data:`DEFAULT_CONTEXTS`, operation -> abstract syntax.
        timeout: default seconds to wait for each response (``None``: the association's).

    Failure statuses raise :class:`aioups.errors.DIMSEFailure` (its ``.response`` holds the
    whole response); success and warnings return the :class:`DIMSEResponse`.
    """

    def __init__(self, association: Association, *, contexts: Mapping[str, str] | None = None,
                 timeout: float | None = None) -> None:
        self.association = association
        self._overrides = dict(contexts or {})
        self.timeout = timeout
        unknown = set(self._overrides) - set(DEFAULT_CONTEXTS)
        if unknown:
            raise ValueError(f"unknown operations {sorted(unknown)}; "
                             f"known: {sorted(DEFAULT_CONTEXTS)}")

    @classmethod
    @asynccontextmanager
    async def connect(cls, host: str, port: int, *, called_ae_title: str = "ANY-SCP",
                      calling_ae_title: str = "AIOUPS", events: EventReceiver | None = None,
                      transfer_syntaxes: tuple[str, ...] = (EXPLICIT_VR_LITTLE_ENDIAN,
                                                            IMPLICIT_VR_LITTLE_ENDIAN),
                      contexts: Mapping[str, str] | None = None, timeout: float | None = None,
                      max_operations_invoked: int = 1, max_pdu_length: int = 16384,
                      ssl_context: ssl.SSLContext | None = None,
                      timeouts: Timeouts = Timeouts(),  # noqa: B008
                      socket_options: SocketOptions = SocketOptions(),  # noqa: B008
                      **options: Any) -> AsyncIterator[UPSClient]:
        """Open an association proposing every UPS context and yield a client on it.

        With ``events``, event reports the SCP sends on this association go to that receiver.
        Other ``options`` go to :func:`aioups.open_association`.
        """
        async with open_association(
                host, port, called_ae_title=called_ae_title, calling_ae_title=calling_ae_title,
                contexts=ups_contexts(transfer_syntaxes),
                handlers=events.handlers() if events is not None else None,
                max_operations_invoked=max_operations_invoked, max_pdu_length=max_pdu_length,
                ssl_context=ssl_context, timeouts=timeouts, socket_options=socket_options,
                **options) as association:
            yield cls(association, contexts=contexts, timeout=timeout)

    # -- context choice -----------------------------------------------------------------------

    def context_for(self, operation: str) -> str:
        """The abstract syntax ``operation`` will use on this association."""
        override = self._overrides.get(operation)
        candidates = (override,) if override else DEFAULT_CONTEXTS[operation]
        negotiated = self.association.negotiated
        accepted = {ctx.abstract_syntax for ctx in negotiated.contexts.values()
                    if ctx.local_scu} if negotiated is not None else set()
        for syntax in candidates:
            if syntax in accepted:
                return syntax
        raise NoAcceptedContext(f"no accepted presentation context for {operation}: "
                                f"proposed {', '.join(candidates)}")

    def _options(self, operation: str, timeout: float | None, check: bool) -> dict[str, Any]:
        return {"abstract_syntax": self.context_for(operation),
                "timeout": self.timeout if timeout is None else timeout, "check": check}

    # -- Verification, Push, Pull -------------------------------------------------------------

    async def echo(self, *, timeout: float | None = None) -> DIMSEResponse:
        """C-ECHO (Verification)."""
        return await c_echo(self.association, timeout=timeout or self.timeout)

    async def create(self, data_set: DataSetArg, uid: str | None = None, *,
                     timeout: float | None = None, check: bool = True) -> DIMSEResponse:
        """N-CREATE a workitem; without ``uid`` the SCP assigns one, which the response
        carries (``response.affected_sop_instance_uid``)."""
        return await n_create(self.association, UPS_PUSH, uid, data_set,
                              **self._options("create", timeout, check))

    async def get(self, uid: str, attributes: Iterable[int | str] | None = None, *,
                  timeout: float | None = None, check: bool = True) -> DIMSEResponse:
        """N-GET a workitem (``attributes``: keywords or tags; ``None`` asks for all)."""
        tags = tuple(_tag(a) for a in attributes) if attributes is not None else None
        return await n_get(self.association, UPS_PUSH, uid, tags,
                           **self._options("get", timeout, check))

    async def set(self, uid: str, modifications: Dataset, transaction_uid: str | None = None,
                  *, timeout: float | None = None, check: bool = True) -> DIMSEResponse:
        """N-SET a workitem (an IN PROGRESS one needs its ``transaction_uid``, UPS-41)."""
        if transaction_uid is not None:
            modifications = copy_data_set(modifications)
            modifications.TransactionUID = transaction_uid
        return await n_set(self.association, UPS_PUSH, uid, modifications,
                           **self._options("set", timeout, check))

    async def change_state(self, uid: str, state: str, transaction_uid: str, *,
                           timeout: float | None = None, check: bool = True) -> DIMSEResponse:
        """N-ACTION Change UPS State (type 1) to ``state``."""
        info = _information(ProcedureStepState=state, TransactionUID=transaction_uid)
        return await n_action(self.association, UPS_PUSH, uid, CHANGE_STATE, info,
                              **self._options("change_state", timeout, check))

    async def claim(self, uid: str, transaction_uid: str | None = None, *,
                    timeout: float | None = None) -> str:
        """Claim a SCHEDULED workitem (IN PROGRESS); returns the Transaction UID to use from
        now on (a new one unless given).  Keep it: it is the only key to the workitem."""
        transaction_uid = transaction_uid or generate_uid()
        await self.change_state(uid, "IN PROGRESS", transaction_uid, timeout=timeout)
        return transaction_uid

    async def complete(self, uid: str, transaction_uid: str, *,
                       timeout: float | None = None) -> DIMSEResponse:
        """Change State to COMPLETED (the final-state attributes must be set first)."""
        return await self.change_state(uid, "COMPLETED", transaction_uid, timeout=timeout)

    async def cancel(self, uid: str, transaction_uid: str, *,
                     timeout: float | None = None) -> DIMSEResponse:
        """Change State to CANCELED, as the performer."""
        return await self.change_state(uid, "CANCELED", transaction_uid, timeout=timeout)

    async def request_cancel(self, uid: str, *, reason: str | None = None,
                             reason_code: Dataset | None = None, contact_uri: str | None = None,
                             contact_name: str | None = None, timeout: float | None = None,
                             check: bool = True) -> DIMSEResponse:
        """N-ACTION Request UPS Cancel (type 2), as a non-performer (UPS-23)."""
        info = _information(ReasonForCancellation=reason, ContactURI=contact_uri,
                            ContactDisplayName=contact_name)
        if reason_code is not None:
            info.ProcedureStepDiscontinuationReasonCodeSequence = [reason_code]
        return await n_action(self.association, UPS_PUSH, uid, REQUEST_CANCEL, info,
                              **self._options("request_cancel", timeout, check))

    # -- Watch --------------------------------------------------------------------------------

    def _receiving_ae(self, receiving_ae: str | None) -> str:
        if receiving_ae:
            return receiving_ae
        negotiated = self.association.negotiated
        return negotiated.local_ae_title if negotiated is not None else "AIOUPS"

    async def subscribe(self, uid: str | None = None, *, receiving_ae: str | None = None,
                        deletion_lock: bool = False, matching_keys: Dataset | None = None,
                        timeout: float | None = None, check: bool = True) -> DIMSEResponse:
        """Subscribe (type 3) ``receiving_ae`` (default: our AE title) to one workitem, or
        globally when ``uid`` is ``None``, or to a filtered global subscription when
        ``matching_keys`` are given."""
        info = copy_data_set(matching_keys) if matching_keys is not None else Dataset()
        info.ReceivingAE = self._receiving_ae(receiving_ae)
        info.DeletionLock = "TRUE" if deletion_lock else "FALSE"
        if uid is None:
            uid = (UPS_GLOBAL_SUBSCRIPTION_INSTANCE if matching_keys is None
                   else UPS_FILTERED_GLOBAL_SUBSCRIPTION_INSTANCE)
        return await n_action(self.association, UPS_PUSH, uid, SUBSCRIBE, info,
                              **self._options("subscribe", timeout, check))

    async def unsubscribe(self, uid: str | None = None, *, receiving_ae: str | None = None,
                          timeout: float | None = None, check: bool = True) -> DIMSEResponse:
        """Unsubscribe (type 4) from one workitem, or globally (every subscription and lock of
        ``receiving_ae``) when ``uid`` is ``None``."""
        info = _information(ReceivingAE=self._receiving_ae(receiving_ae))
        return await n_action(self.association, UPS_PUSH,
                              uid or UPS_GLOBAL_SUBSCRIPTION_INSTANCE, UNSUBSCRIBE, info,
                              **self._options("subscribe", timeout, check))

    async def suspend_global(self, *, receiving_ae: str | None = None,
                             timeout: float | None = None, check: bool = True) -> DIMSEResponse:
        """Suspend the global subscription (type 5): no new workitems, existing ones kept."""
        info = _information(ReceivingAE=self._receiving_ae(receiving_ae))
        return await n_action(self.association, UPS_PUSH, UPS_GLOBAL_SUBSCRIPTION_INSTANCE,
                              SUSPEND_GLOBAL, info, **self._options("subscribe", timeout, check))

    # -- Query --------------------------------------------------------------------------------

    def find(self, identifier: Dataset, *, priority: int = Priority.MEDIUM,
             timeout: float | None = None) -> FindResults:
        """C-FIND workitems: ``async with client.find(keys) as results: async for m in
        results`` (each ``m.data_set`` is one match; leaving early sends C-CANCEL)."""
        syntax = self.context_for("find")
        return c_find(self.association, syntax, identifier, priority=priority,
                      abstract_syntax=syntax, timeout=self.timeout if timeout is None
                      else timeout)

