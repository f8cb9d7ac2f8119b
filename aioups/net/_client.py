"""The requestor side: ``open_association()`` and the Verification SCU."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio

from .._uids import VERIFICATION
from ..dimse import Status
from ..errors import AioupsError, AssociationAborted, AssociationTimeout
from ..pdu import DICOM_APPLICATION_CONTEXT, UserIdentityRQ
from ..ul import (
    AssociateRequest,
    PresentationContextProposal,
    Role,
    ULConfig,
    ULConnection,
    build_associate_rq,
)
from ._association import Association, Timeouts
from ._dispatch import Handlers
from ._services import c_echo
from ._transport import SocketOptions, connect

_DEFAULT_CONTEXTS = (PresentationContextProposal(abstract_syntax=VERIFICATION),)


@asynccontextmanager
async def open_association(
    host: str, port: int, *, called_ae_title: str = "ANY-SCP", calling_ae_title: str = "AIOUPS",
    contexts: tuple[PresentationContextProposal, ...] = _DEFAULT_CONTEXTS,
    max_pdu_length: int = 16384, max_operations_invoked: int = 1,
    max_operations_performed: int = 1, user_identity: UserIdentityRQ | None = None,
    ssl_context: ssl.SSLContext | None = None, server_hostname: str | None = None,
    timeouts: Timeouts = Timeouts(), socket_options: SocketOptions = SocketOptions(),  # noqa: B008
    handlers: Handlers | None = None, pack_pdv: bool = True, local_host: str | None = None,
    max_send_pdu_length: int = 0, proxy: str | None = None,
) -> AsyncIterator[Association]:
    """Connect, negotiate an association, and release it when the block ends.

    The association is released on normal exit and aborted when the block raises or is
    cancelled.  ``handlers`` answer requests the acceptor sends us (e.g. N-EVENT-REPORT).
    ``max_send_pdu_length`` caps the P-DATA-TF PDUs we send below the acceptor's maximum
    (0: the acceptor's); ``proxy`` (``[user:password@]host:port``) tunnels the connection
    through an HTTP proxy.

    Raises:
        ConnectError, AssociationTimeout: the connection or the A-ASSOCIATE-AC did not come.
        AssociationRejected: the acceptor answered A-ASSOCIATE-RJ.
        AssociationAborted: the acceptor aborted, or answered in another application context.
    """
    rq = build_associate_rq(
        calling_ae_title=calling_ae_title, called_ae_title=called_ae_title, contexts=contexts,
        max_pdu_length=max_pdu_length, max_operations_invoked=max_operations_invoked,
        max_operations_performed=max_operations_performed, user_identity=user_identity)
    conn = ULConnection(Role.REQUESTOR, ULConfig(max_pdu_length=max_pdu_length,
                                                 artim_timeout=timeouts.artim))
    conn.send(AssociateRequest(rq=rq), anyio.current_time())  # Sta1 -> Sta4: connect now
    stream = await connect(host, port, timeout=timeouts.connect, ssl_context=ssl_context,
                           server_hostname=server_hostname, local_host=local_host,
                           options=socket_options, proxy=proxy)
    association = Association(stream, conn, timeouts=timeouts, handlers=handlers,
                              pack_pdv=pack_pdv, peer=f"{called_ae_title}@{host}:{port}",
                              max_send_pdu_length=max_send_pdu_length,
                              close_delay=socket_options.close_delay)
    error: BaseException | None = None
    async with anyio.create_task_group() as tg:
        tg.start_soon(association.run)
        try:
            await _establish(association, conn)
        except BaseException as exc:
            error = exc
            await association.abort()
        else:
            try:
                yield association
            except BaseException as exc:
                error = exc
                await association.abort()
            else:
                try:
                    await association.release()
                except AioupsError as exc:
                    error = exc
        tg.cancel_scope.cancel()
    if error is not None:
        raise error


async def _establish(association: Association, conn: ULConnection) -> None:
    conn.transport_connected(anyio.current_time())  # Sta4 -> Sta5: A-ASSOCIATE-RQ queued
    await association._flush()
    with anyio.move_on_after(association.timeouts.accept):
        await association._established.wait()
    association._raise_if_dead()
    negotiated = association.negotiated
    if negotiated is None:
        raise AssociationTimeout("no A-ASSOCIATE-AC within the accept timeout")
    name = association.application_context_name
    if name != DICOM_APPLICATION_CONTEXT:  # UL-15: we cannot operate in another context
        raise AssociationAborted(-1, 0, f"acceptor answered application context {name}")


async def send_echo(association: Association, *, timeout: float | None = None) -> Status:
    """Send C-ECHO on the Verification context; returns the status (success or a warning).

    Raises:
        DIMSEFailure: the SCP answered with a failure status.
        NoAcceptedContext: Verification was not accepted.
    """
    return (await c_echo(association, timeout=timeout)).status
