"""A server with a custom C-ECHO handler that refuses echoes from one AE title.

Handlers are async callables registered per (abstract syntax, request class).  Raising
``DIMSEStatusError`` picks the response status.

    python examples/custom_handler.py
"""

from __future__ import annotations

import anyio

import aioups
from aioups.dimse import CEchoRQ, CEchoRSP
from aioups.errors import DIMSEStatusError


async def picky_echo(request: aioups.ServiceRequest) -> CEchoRSP:
    negotiated = request.association.negotiated
    assert negotiated is not None and isinstance(request.message, CEchoRQ)
    if negotiated.peer_ae_title == "UNWELCOME":
        raise DIMSEStatusError(aioups.Status.NOT_AUTHORIZED, "not you")
    return CEchoRSP(message_id_being_responded_to=request.message.message_id)


async def main() -> None:
    config = aioups.ServerConfig(ae_title="PICKY", handlers={(aioups.VERIFICATION, CEchoRQ):
                                                             picky_echo})
    async with anyio.create_task_group() as tg:
        port = await tg.start(aioups.Server(config).serve, "127.0.0.1", 0)
        for calling in ("FRIEND", "UNWELCOME"):
            async with aioups.open_association("127.0.0.1", port, calling_ae_title=calling) as a:
                try:
                    print(calling, (await aioups.send_echo(a)).describe())
                except DIMSEStatusError as exc:  # failure statuses raise
                    print(calling, aioups.Status(exc.status).describe(), exc.error_comment)
        tg.cancel_scope.cancel()


if __name__ == "__main__":
    anyio.run(main)
