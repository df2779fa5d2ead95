"""LVM as the report tools show it: PVs, VGs, LVs; and the LVM configuration that matters."""

from __future__ import annotations

from kvmcluster.model.record import factory, record


@record
class PhysicalVolume:
    name: str
    vg: str
    attr: str
    size: int = 0
    free: int = 0

    @property
    def missing(self) -> bool:
        return (len(self.attr) > 2 and self.attr[2] == "m") or "unknown" in self.name


@record
class VolumeGroup:
    name: str
    attr: str
    size: int
    free: int
    lv_count: int = 0
    pv_count: int = 0

    @property
    def clustered(self) -> bool:
        return len(self.attr) > 5 and self.attr[5] == "c"

    @property
    def shared(self) -> bool:
        return len(self.attr) > 5 and self.attr[5] == "s"

    @property
    def partial(self) -> bool:
        return len(self.attr) > 3 and self.attr[3] == "p"


@record
class LogicalVolume:
    name: str
    vg: str
    attr: str
    size: int = 0

    @property
    def active(self) -> bool:
        return len(self.attr) > 4 and self.attr[4] == "a"


@record
class LvmConfig:
    """The settings kvmcluster checks, each with the line it was read from."""

    source: str
    values: dict[str, tuple[object, int]] = factory(dict)  # "section/key" -> (value, line)

    def get(self, key: str, default=None):
        return self.values.get(key, (default, 0))[0]

    def line(self, key: str) -> int | None:
        return self.values.get(key, (None, None))[1] or None


@record
class LvmReport:
    source: str
    pvs: list[PhysicalVolume] = factory(list)
    vgs: list[VolumeGroup] = factory(list)
    lvs: list[LogicalVolume] = factory(list)
