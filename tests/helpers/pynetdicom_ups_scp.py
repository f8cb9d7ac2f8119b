"""A small but real UPS SCP written with pynetdicom, in-process and threaded (a test peer only).

:class:`PynetdicomUPSSCP` keeps workitems in memory and follows digest §4 loosely:

* N-CREATE (Push): stores the data set (SOP Class UID = Push, SOP Instance UID, no Transaction
  UID), assigning a UID when the request has none; 0111H for a UID it has, C309H unless the
  state is SCHEDULED.
* N-GET: the listed top-level attributes (all of them without a list), never the Transaction
  UID; C307H for an unknown UPS.
* N-SET: applies the modifications.  SCHEDULED: no Transaction UID allowed (C310H).  IN
  PROGRESS: the Transaction UID must match (C301H).  COMPLETED/CANCELED: C300H.
* N-ACTION type 1 (Change State) after the state table (UPS-11): IN PROGRESS with a UID claims a
  SCHEDULED UPS and records the UID (the same UID again: C302H, another: C301H); COMPLETED or
  CANCELED need the recorded UID (C301H), an IN PROGRESS UPS (C310H) and, for COMPLETED, a
  Performed Procedure Sequence (C304H); SCHEDULED: C303H.
* N-ACTION type 2 (Request Cancel): SCHEDULED becomes CANCELED, IN PROGRESS stays (the request
  is recorded), COMPLETED: C311H.
* N-ACTION types 3, 4, 5 (subscriptions): recorded as ``(Receiving AE, instance, lock)``.
* C-FIND (Pull, Watch, Query): naive matching on Procedure Step State and SOP Instance UID
  (other keys are return keys only).
* C-ECHO.

Every request is recorded as :class:`UPSRequest`, with the presentation context's abstract
syntax next to the SOP class in the command, for the tests to check UPS-05/UPS-06.  Handlers run
in pynetdicom's threads; shared state goes through one lock.  Timeouts are short and
``maximum_associations`` is raised, as in :mod:`helpers.pynetdicom_peers`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from pydicom.dataset import Dataset
from pydicom.uid import generate_uid
from pynetdicom import AE, evt
from pynetdicom.dimse_primitives import C_ECHO, C_FIND, N_ACTION, N_CREATE, N_GET, N_SET
from pynetdicom.events import Event, EventHandlerType
from pynetdicom.transport import ThreadedAssociationServer

from aioups import _uids
from helpers.pynetdicom_peers import HOST, configure_timeouts, copy_dataset, tag_list

UPS_SOP_CLASSES = (_uids.UPS_PUSH, _uids.UPS_PULL, _uids.UPS_WATCH, _uids.UPS_QUERY)
TRANSFER_SYNTAXES = [_uids.EXPLICIT_VR_LITTLE_ENDIAN, _uids.IMPLICIT_VR_LITTLE_ENDIAN]
TRANSACTION_UID = 0x00081195
SUCCESS = 0x0000
PENDING = 0xFF00
DUPLICATE_SOP_INSTANCE = 0x0111
MAY_NO_LONGER_BE_UPDATED = 0xC300
WRONG_TRANSACTION_UID = 0xC301
ALREADY_IN_PROGRESS = 0xC302
ONLY_SCHEDULED_VIA_N_CREATE = 0xC303
FINAL_STATE_REQUIREMENTS_NOT_MET = 0xC304
NO_SUCH_UPS = 0xC307
NOT_SCHEDULED_AT_CREATE = 0xC309
NOT_IN_PROGRESS = 0xC310
ALREADY_COMPLETED = 0xC311
NO_SUCH_ACTION = 0x0123
FINAL = ("COMPLETED", "CANCELED")


@dataclass(frozen=True)
class UPSRequest:
    """One request the SCP received."""

    service: str
    #: the presentation context's abstract syntax
    abstract_syntax: str
    #: the SOP class UID in the command (Affected or Requested)
    sop_class_uid: str | None
    sop_instance_uid: str | None
    calling_ae_title: str
    #: Action Type ID (N-ACTION)
    type_id: int | None = None
    attribute_identifiers: tuple[int, ...] = ()
    data_set: Dataset | None = None
    #: the status the SCP answered with (the final one, for C-FIND)
    status: int | None = None


@dataclass
class Workitem:
    data_set: Dataset
    transaction_uid: str | None = None

    @property
    def state(self) -> str:
        return str(self.data_set.ProcedureStepState)


@dataclass
class PynetdicomUPSSCP:
    """The UPS SCP; :meth:`start` / :meth:`stop`, :meth:`reset` between tests.

    Args:
        ae_title: its AE title.
        sop_classes: the UPS SOP classes it accepts (Verification always).
    """

    ae_title: str = "PYUPS"
    sop_classes: Sequence[str] = UPS_SOP_CLASSES
    workitems: dict[str, Workitem] = field(default_factory=dict)
    requests: list[UPSRequest] = field(default_factory=list)
    #: (Receiving AE, instance UID or well-known UID) -> deletion lock, as subscribed
    subscriptions: dict[tuple[str, str], bool] = field(default_factory=dict)
    #: the Request Cancel information received, per UPS
    cancel_requests: dict[str, list[Dataset]] = field(default_factory=dict)
    server: ThreadedAssociationServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def port(self) -> int:
        assert self.server is not None
        port: int = self.server.server_address[1]
        return port

    def start(self) -> None:
        ae = AE(ae_title=self.ae_title)
        configure_timeouts(ae)
        ae.maximum_associations = 50
        ae.add_supported_context(_uids.VERIFICATION, TRANSFER_SYNTAXES)
        for abstract in self.sop_classes:
            ae.add_supported_context(abstract, TRANSFER_SYNTAXES)
        handlers: list[EventHandlerType] = [
            (evt.EVT_C_ECHO, self._on_echo), (evt.EVT_C_FIND, self._on_find),
            (evt.EVT_N_CREATE, self._on_create), (evt.EVT_N_GET, self._on_get),
            (evt.EVT_N_SET, self._on_set), (evt.EVT_N_ACTION, self._on_action),
        ]
        self.server = ae.start_server((HOST, 0), block=False, evt_handlers=handlers)

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server = None

    def reset(self) -> None:
        """Forget every workitem, subscription and request."""
        with self._lock:
            self.workitems.clear()
            self.requests.clear()
            self.subscriptions.clear()
            self.cancel_requests.clear()

    def take(self, service: str | None = None) -> list[UPSRequest]:
        """The requests received so far (of one service, e.g. ``"N-ACTION"``)."""
        with self._lock:
            return [r for r in self.requests if service is None or r.service == service]

    def workitem(self, uid: str) -> Workitem:
        with self._lock:
            return self.workitems[uid]

    # -- recording -----------------------------------------------------------------------------

    def _record(self, event: Event, service: str, status: int, *, sop_class: str | None,
                instance: str | None, type_id: int | None = None,
                attributes: tuple[int, ...] = (), data_set: Dataset | None = None) -> None:
        self.requests.append(UPSRequest(
            service, str(event.context.abstract_syntax),
            None if sop_class is None else str(sop_class),
            None if instance is None else str(instance),
            str(event.assoc.requestor.ae_title).strip(), type_id, attributes,
            data_set, status))

    # -- handlers (pynetdicom's threads) -------------------------------------------------------

    def _on_echo(self, event: Event) -> int:
        req = event.request
        assert isinstance(req, C_ECHO)
        with self._lock:
            self._record(event, "C-ECHO", SUCCESS, sop_class=req.AffectedSOPClassUID,
                         instance=None)
        return SUCCESS

    def _on_create(self, event: Event) -> tuple[int, Dataset | None]:
        req = event.request
        assert isinstance(req, N_CREATE)
        attributes = event.attribute_list
        uid = str(req.AffectedSOPInstanceUID or generate_uid())
        with self._lock:
            if uid in self.workitems:
                status = DUPLICATE_SOP_INSTANCE
            elif attributes.get("ProcedureStepState", "") != "SCHEDULED":
                status = NOT_SCHEDULED_AT_CREATE
            else:
                status = SUCCESS
                stored = copy_dataset(attributes)
                stored.pop(TRANSACTION_UID, None)
                stored.SOPClassUID = _uids.UPS_PUSH
                stored.SOPInstanceUID = uid
                self.workitems[uid] = Workitem(stored)
            self._record(event, "N-CREATE", status, sop_class=req.AffectedSOPClassUID,
                         instance=req.AffectedSOPInstanceUID, data_set=attributes)
        if status != SUCCESS or req.AffectedSOPInstanceUID is not None:
            return status, None
        reply = Dataset()
        reply.AffectedSOPInstanceUID = uid  # pynetdicom moves it into the response command
        return status, reply

    def _on_get(self, event: Event) -> tuple[int, Dataset | None]:
        req = event.request
        assert isinstance(req, N_GET)
        uid = str(req.RequestedSOPInstanceUID)
        tags = tag_list(req.AttributeIdentifierList)
        with self._lock:
            item = self.workitems.get(uid)
            status = SUCCESS if item is not None else NO_SUCH_UPS
            self._record(event, "N-GET", status, sop_class=req.RequestedSOPClassUID,
                         instance=uid, attributes=tags)
            if item is None:
                return status, None
            return status, _select(item.data_set, tags)

    def _on_set(self, event: Event) -> tuple[int, Dataset | None]:
        req = event.request
        assert isinstance(req, N_SET)
        uid = str(req.RequestedSOPInstanceUID)
        modifications = event.modification_list
        with self._lock:
            item = self.workitems.get(uid)
            supplied = modifications.get("TransactionUID")
            if item is None:
                status = NO_SUCH_UPS
            elif item.state in FINAL:
                status = MAY_NO_LONGER_BE_UPDATED
            elif item.state == "SCHEDULED":
                status = NOT_IN_PROGRESS if supplied is not None else SUCCESS
            else:
                status = SUCCESS if supplied == item.transaction_uid else WRONG_TRANSACTION_UID
            if status == SUCCESS and item is not None:
                for elem in modifications:
                    if elem.tag != TRANSACTION_UID:
                        item.data_set[elem.tag] = elem
            self._record(event, "N-SET", status, sop_class=req.RequestedSOPClassUID,
                         instance=uid, data_set=modifications)
        return status, None

    def _on_action(self, event: Event) -> tuple[int, Dataset | None]:
        req = event.request
        assert isinstance(req, N_ACTION)
        uid = str(req.RequestedSOPInstanceUID)
        information = event.action_information
        action = int(req.ActionTypeID or 0)
        with self._lock:
            if action == 1:
                status = self._change_state(uid, information)
            elif action == 2:
                status = self._request_cancel(uid, information)
            elif action in (3, 4, 5):
                status = self._subscription(uid, action, information)
            else:
                status = NO_SUCH_ACTION
            self._record(event, "N-ACTION", status, sop_class=req.RequestedSOPClassUID,
                         instance=uid, type_id=action, data_set=information)
        return status, None

    def _change_state(self, uid: str, information: Dataset) -> int:
        item = self.workitems.get(uid)
        if item is None:
            return NO_SUCH_UPS
        requested = str(information.get("ProcedureStepState", ""))
        supplied = str(information.get("TransactionUID", "") or "")
        if requested == "SCHEDULED":
            return ONLY_SCHEDULED_VIA_N_CREATE
        if requested == "IN PROGRESS":
            if item.state == "SCHEDULED" and supplied:
                item.transaction_uid = supplied
                item.data_set.ProcedureStepState = "IN PROGRESS"
                return SUCCESS
            if supplied and supplied == item.transaction_uid:
                return ALREADY_IN_PROGRESS if item.state == "IN PROGRESS" else \
                    MAY_NO_LONGER_BE_UPDATED
            return WRONG_TRANSACTION_UID
        if item.state == "SCHEDULED":
            return NOT_IN_PROGRESS if supplied else WRONG_TRANSACTION_UID
        if supplied != item.transaction_uid:
            return WRONG_TRANSACTION_UID
        if item.state in FINAL:
            return MAY_NO_LONGER_BE_UPDATED
        if requested == "COMPLETED" and not item.data_set.get(
                "UnifiedProcedureStepPerformedProcedureSequence"):
            return FINAL_STATE_REQUIREMENTS_NOT_MET
        item.data_set.ProcedureStepState = requested
        return SUCCESS

    def _request_cancel(self, uid: str, information: Dataset) -> int:
        item = self.workitems.get(uid)
        if item is None:
            return NO_SUCH_UPS
        if item.state == "COMPLETED":
            return ALREADY_COMPLETED
        self.cancel_requests.setdefault(uid, []).append(information)
        if item.state == "SCHEDULED":
            item.data_set.ProcedureStepState = "CANCELED"
        return SUCCESS

    def _subscription(self, uid: str, action: int, information: Dataset) -> int:
        well_known = (_uids.UPS_GLOBAL_SUBSCRIPTION_INSTANCE,
                      _uids.UPS_FILTERED_GLOBAL_SUBSCRIPTION_INSTANCE)
        if uid not in well_known and uid not in self.workitems:
            return NO_SUCH_UPS
        title = str(information.get("ReceivingAE", "")).strip()
        if action == 3:
            self.subscriptions[(title, uid)] = information.get("DeletionLock") == "TRUE"
        elif action == 4 and uid in well_known:  # unsubscribe globally: everything goes
            for key in [key for key in self.subscriptions if key[0] == title]:
                del self.subscriptions[key]
        elif action == 4:
            self.subscriptions.pop((title, uid), None)
        else:  # suspend: only the global subscription goes
            self.subscriptions.pop((title, uid), None)
        return SUCCESS

    def _on_find(self, event: Event) -> Iterator[tuple[int, Dataset | None]]:
        req = event.request
        assert isinstance(req, C_FIND)
        identifier = event.identifier
        with self._lock:
            matches = [_select(item.data_set, [int(elem.tag) for elem in identifier])
                       for item in self.workitems.values() if _matches(identifier, item)]
            self._record(event, "C-FIND", SUCCESS, sop_class=req.AffectedSOPClassUID,
                         instance=None, data_set=identifier)
        for match in matches:
            yield PENDING, match


def _select(source: Dataset, tags: Iterable[int]) -> Dataset:
    """The listed top-level attributes ``source`` has (all of them without a list), never the
    Transaction UID."""
    wanted = list(tags)
    result = Dataset()
    for elem in source:
        if (not wanted or int(elem.tag) in wanted) and elem.tag != TRANSACTION_UID:
            result.add(elem)
    return result


def _matches(identifier: Dataset, item: Workitem) -> bool:
    for keyword in ("ProcedureStepState", "SOPInstanceUID"):
        key = identifier.get(keyword)
        if key and str(key) != str(item.data_set.get(keyword, "")):
            return False
    return True
