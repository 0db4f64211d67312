"""Lanes: at most ``size`` requests at once, each on a client of its own, reused."""

from __future__ import annotations

import asyncio

from n2net_privacy.egress.policy import ClientRequest, EgressResponse
from n2net_privacy.gravatar.batch import Lanes


class FakeClient:
    def __init__(self, made: list[FakeClient]) -> None:
        self.closed = 0
        self.busy = False
        made.append(self)

    async def send(self, request: ClientRequest) -> EgressResponse:
        raise AssertionError("not used")

    async def request(self, method: str, url: str, **kwargs: object) -> EgressResponse:
        raise AssertionError("not used")

    async def aclose(self) -> None:
        self.closed += 1


def test_at_most_size_clients_each_carrying_one_request_at_a_time() -> None:
    made: list[FakeClient] = []
    lanes = Lanes(3, lambda: FakeClient(made))
    in_flight = 0
    peak = 0
    release = asyncio.Event()

    async def use() -> None:
        nonlocal in_flight, peak
        async with lanes.lane() as client:
            fake: FakeClient = client  # type: ignore[assignment]
            assert not fake.busy
            fake.busy = True
            in_flight += 1
            peak = max(peak, in_flight)
            await release.wait()
            in_flight -= 1
            fake.busy = False

    async def main() -> None:
        tasks = [asyncio.create_task(use()) for _ in range(10)]
        while in_flight < 3:
            await asyncio.sleep(0)
        assert len(made) == 3  # the others wait for a lane, they make no client
        release.set()
        await asyncio.gather(*tasks)
        await lanes.aclose()

    asyncio.run(main())
    assert peak == 3
    assert len(made) == 3  # reused, never more than the lanes
    assert [client.closed for client in made] == [1, 1, 1]


def test_a_lane_is_given_back_when_its_request_fails() -> None:
    made: list[FakeClient] = []
    lanes = Lanes(1, lambda: FakeClient(made))

    async def main() -> None:
        for _ in range(3):
            try:
                async with lanes.lane():
                    raise OSError("the request failed")
            except OSError:
                pass
        async with lanes.lane() as client:
            assert client is made[0]
        await lanes.aclose()

    asyncio.run(main())
    assert len(made) == 1 and made[0].closed == 1
