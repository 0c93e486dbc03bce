"""Human units for bytes and durations, shared by the CLI and the UI."""

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def format_bytes(count: float) -> str:
    """`52.3 MiB`: binary units, one decimal above bytes."""
    value = float(abs(count))
    unit = 0
    while value >= 1024 and unit < len(_UNITS) - 1:
        value /= 1024
        unit += 1
    sign = "-" if count < 0 else ""
    if unit == 0:
        return f"{sign}{int(value)} B"
    return f"{sign}{value:.1f} {_UNITS[unit]}"


def format_change(count: float) -> str:
    """`+12.3 MiB`, `-1.0 KiB` or `±0 B`."""
    if count == 0:
        return "±0 B"
    return ("+" if count > 0 else "") + format_bytes(count)


def format_duration(seconds: float) -> str:
    """`45s`, `3m 12s`, `2h 05m`, `3d 04h`."""
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"
