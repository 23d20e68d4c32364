"""Class-based namespaces, as in python-socketio and Flask-SocketIO."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Sequence, Union

from .context import Targets, current_event

if TYPE_CHECKING:  # pragma: no cover
    from .worker import Worker


class Namespace:
    """Base class of class-based namespaces.

    Methods named ``on_<event>`` handle the events of the namespace::

        class Chat(siogate.Namespace):
            def on_connect(self, sid, environ, auth):
                self.enter_room(sid, "lobby")

            def on_disconnect(self, sid, reason):
                pass

            def on_my_event(self, sid, data):      # the event "my_event"
                self.emit("my_response", data, room="lobby")
                return "got it"                    # the ack, if asked for

        worker.register_namespace(Chat("/chat"))

    ``on_connect``/``on_disconnect`` may take fewer parameters (``(self,
    sid)``).  The helpers below are the :class:`siogate.Worker` methods with
    ``namespace`` defaulting to this namespace (for a pattern namespace such
    as ``"/room-*"``, to the namespace of the event being handled).
    Override :meth:`trigger_event` to dispatch differently.
    """

    def __init__(self, namespace: Optional[str] = None):
        """See the class docstring."""
        self.namespace = namespace or "/"
        self.worker: Optional[Worker] = None

    def _set_worker(self, worker):
        """Called by register_namespace()."""
        self.worker = worker

    def trigger_event(self, event: str, *args: Any) -> Any:
        """Call ``on_<event>(*args)`` if the class has it; returns its
        return value (None when there is no such method)."""
        handler = getattr(self, "on_" + event, None)
        if handler is None:
            return None
        if event in ("connect", "disconnect"):
            from .worker import call_adapted
            return call_adapted(handler, args)
        return handler(*args)

    def _ns(self, namespace):
        """The namespace a helper uses."""
        if namespace:
            return namespace
        if self.namespace.endswith("*"):
            ctx = current_event()
            if ctx is not None and ctx.namespace:
                return ctx.namespace
        return self.namespace

    def _w(self):
        """The worker, or RuntimeError."""
        if self.worker is None:
            raise RuntimeError("namespace %s is not registered with a worker" % self.namespace)
        return self.worker

    def emit(self, event: str, data: Any = None, to: Targets = None, room: Targets = None,
             skip_sid: Targets = None, namespace: Optional[str] = None,
             callback: Optional[Callable[..., Any]] = None, timeout: float = 10,
             include_self: bool = True,
             error_callback: Optional[Callable[[BaseException], Any]] = None) -> None:
        """:meth:`siogate.Worker.emit` in this namespace: without ``to``, to
        every socket of the namespace (as python-socketio's and
        Flask-SocketIO's ``Namespace.emit``)."""
        return self._w().emit(event, data, to=to, room=room, skip_sid=skip_sid,
                              namespace=self._ns(namespace), callback=callback,
                              timeout=timeout, include_self=include_self,
                              error_callback=error_callback)

    def send(self, data: Any, to: Targets = None, room: Targets = None,
             skip_sid: Targets = None, namespace: Optional[str] = None,
             callback: Optional[Callable[..., Any]] = None, timeout: float = 10,
             include_self: bool = True,
             error_callback: Optional[Callable[[BaseException], Any]] = None) -> None:
        """:meth:`siogate.Worker.send` in this namespace."""
        return self._w().send(data, to=to, room=room, skip_sid=skip_sid,
                              namespace=self._ns(namespace), callback=callback,
                              timeout=timeout, include_self=include_self,
                              error_callback=error_callback)

    def call(self, event: str, data: Any = None, to: Optional[str] = None,
             sid: Optional[str] = None, namespace: Optional[str] = None,
             timeout: float = 10) -> Any:
        """:meth:`siogate.Worker.call` in this namespace."""
        return self._w().call(event, data, to=to, sid=sid, namespace=self._ns(namespace),
                              timeout=timeout)

    def enter_room(self, sid: Targets, room: Union[str, Sequence[str]],
                   namespace: Optional[str] = None) -> None:
        """:meth:`siogate.Worker.enter_room` in this namespace."""
        return self._w().enter_room(sid, room, namespace=self._ns(namespace))

    join_room = enter_room

    def leave_room(self, sid: Targets, room: Union[str, Sequence[str]],
                   namespace: Optional[str] = None) -> None:
        """:meth:`siogate.Worker.leave_room` in this namespace."""
        return self._w().leave_room(sid, room, namespace=self._ns(namespace))

    def close_room(self, room: Union[str, Sequence[str]],
                   namespace: Optional[str] = None) -> None:
        """:meth:`siogate.Worker.close_room` in this namespace."""
        return self._w().close_room(room, namespace=self._ns(namespace))

    def rooms(self, sid: Optional[str] = None, namespace: Optional[str] = None) -> List[str]:
        """:meth:`siogate.Worker.rooms` in this namespace."""
        return self._w().rooms(sid, namespace=self._ns(namespace))

    def disconnect(self, sid: Targets, namespace: Optional[str] = None,
                   close: bool = False) -> None:
        """:meth:`siogate.Worker.disconnect` in this namespace."""
        return self._w().disconnect(sid, namespace=self._ns(namespace), close=close)

    def get_session(self, sid: str, namespace: Optional[str] = None) -> Dict[str, Any]:
        """:meth:`siogate.Worker.get_session` in this namespace."""
        return self._w().get_session(sid, namespace=self._ns(namespace))

    def save_session(self, sid: str, session: Dict[str, Any],
                     namespace: Optional[str] = None) -> None:
        """:meth:`siogate.Worker.save_session` in this namespace."""
        return self._w().save_session(sid, session, namespace=self._ns(namespace))

    def update_session(self, sid: str, changes: Dict[str, Any],
                       namespace: Optional[str] = None) -> None:
        """:meth:`siogate.Worker.update_session` in this namespace."""
        return self._w().update_session(sid, changes, namespace=self._ns(namespace))

    def session(self, sid: str, namespace: Optional[str] = None):
        """:meth:`siogate.Worker.session` in this namespace."""
        return self._w().session(sid, namespace=self._ns(namespace))

    def get_environ(self, sid: str, namespace: Optional[str] = None) -> Optional[Dict[str, Any]]:
        """:meth:`siogate.Worker.get_environ`."""
        return self._w().get_environ(sid, namespace=self._ns(namespace))

    def sockets(self, to: Targets = None, namespace: Optional[str] = None) -> List[Dict[str, Any]]:
        """:meth:`siogate.Worker.sockets` of this namespace."""
        return self._w().sockets(self._ns(namespace), to=to)
