"""The Login Service: a user name and password make a session; its secrets use it.

Login checks the throttle first (``throttle.py``), then the password; a user name
that does not exist costs the same work (a check against a dummy hash) and gets the
same answer as a wrong password. Refresh and logout find the session by the
``Session_id`` cookie, else by the bearer, else by the csrf value alone (the community
Python wrapper sends nothing else), and always need the csrf value to match.

Where the tables live: users in the store's database, beside the keys. Sessions and
failed logins in the same database when it is shared (PostgreSQL); beside a SQLite
store in a file of their own (``<database>.sessions``): the SQLite store reloads its
memory whenever its file is written from outside its writer, and sessions are written
at every login and now and then while in use.

Every method here blocks (database round trips, a tenth of a second of scrypt): the
HTTP layer calls them off the event loop.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from engactivity.auth.authdb import AuthDatabase
from engactivity.auth.keys import hash_token
from engactivity.auth.passwords import verify_dummy, verify_password
from engactivity.auth.sessions import NewSession, Session, SessionStore
from engactivity.auth.throttle import LoginThrottle, address_counter, user_counter
from engactivity.auth.users import UserRecord, UserStore
from engactivity.clock import Clock
from engactivity.store import Database, open_database, parse_store_url


class LoginThrottled(Exception):
    """Too many failed logins for the user name or the address: wait ``retry_after_s``."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"retry after {retry_after_s} s")
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class LoggedIn:
    user: UserRecord
    made: NewSession


@dataclass(frozen=True)
class SessionProof:
    """What a refresh or logout request brings to name its session."""

    csrf: str
    cookie: str = ""
    bearer: str = ""


@dataclass(frozen=True)
class LoginStores:
    """The tables of the Login Service, opened together and closed together."""

    users: UserStore
    sessions: SessionStore
    throttle: LoginThrottle
    databases: tuple[AuthDatabase, ...]

    def close(self) -> None:
        for db in self.databases:
            db.close()


def open_login_stores(db: Database, store_url: str, idle_ms: int) -> LoginStores:
    """The users on ``db`` (the store's database, not closed here), the sessions and
    failed logins on it too or, for SQLite, in ``<database>.sessions`` (closed here)."""
    main = AuthDatabase(db)
    side = main
    if parse_store_url(store_url).engine == "sqlite":
        side = AuthDatabase(open_database(f"{store_url}.sessions", "NORMAL"), owned=True)
    try:
        return LoginStores(
            UserStore(main), SessionStore(side, idle_ms), LoginThrottle(side), (main, side)
        )
    except BaseException:
        side.close()
        raise


class LoginService:
    def __init__(self, stores: LoginStores, clock: Clock) -> None:
        self.stores = stores
        self.users = stores.users
        self.sessions = stores.sessions
        self.throttle = stores.throttle
        self.clock = clock

    def login(self, account: str, login_name: str, password: str, address: str) -> LoggedIn | None:
        """A new session, or None when the name or password is wrong (LoginThrottled
        when logins are blocked for the name or the address)."""
        now = self.clock()
        counters = [user_counter(account, login_name), address_counter(address)]
        wait_ms = self.throttle.wait_ms(counters, now)
        if wait_ms > 0:
            raise LoginThrottled(-(-wait_ms // 1000))
        user = self.users.find(account, login_name)
        if user is None:
            good = verify_dummy(password)
        else:
            good = verify_password(password, user.password_hash)
        if user is None or not good:
            self.throttle.failed(counters, now)
            return None
        self.throttle.cleared(counters[0])
        return LoggedIn(user, self.sessions.create(account, user.user_id, user.login_name, now))

    def refresh(self, account: str, proof: SessionProof) -> bool:
        """Extend the session ``proof`` names; False when there is none to extend."""
        now = self.clock()
        session = self._proven(account, proof, now)
        if session is not None:
            self.sessions.used(session, now, always=True)
        return session is not None

    def logout(self, account: str, proof: SessionProof) -> bool:
        """End the session ``proof`` names at once; False when there is none."""
        session = self._proven(account, proof, self.clock())
        if session is not None:
            self.sessions.end(session)
        return session is not None

    def by_bearer(self, bearer: str) -> Session | None:
        """The live session of a bearer (counting this as a use), else None."""
        now = self.clock()
        session = self.sessions.find("bearer", bearer, now)
        if session is not None:
            self.sessions.used(session, now)
        return session

    def _proven(self, account: str, proof: SessionProof, now: int) -> Session | None:
        if not proof.csrf:
            return None
        if proof.cookie:
            session = self.sessions.find("cookie", proof.cookie, now)
        elif proof.bearer:
            session = self.sessions.find("bearer", proof.bearer, now)
        else:
            session = self.sessions.find("csrf", proof.csrf, now)
        if session is None or session.account != account:
            return None
        return session if hmac.compare_digest(session.csrf_hash, hash_token(proof.csrf)) else None

    def close(self) -> None:
        self.stores.close()
