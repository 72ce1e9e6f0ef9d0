"""Axial, coronal and sagittal views of a volume, with orientation letters and crosshairs.

Volumes are RAS+ arrays of shape (X, Y, Z) as ``common.datasets.volumes`` loads them: X increases towards the
patient's Right, Y towards Anterior, Z towards Superior. They are shown in the **radiological convention**
used by clinical viewers: axial and coronal images are seen from the patient's feet / front, so the patient's
right is on the viewer's left. Pass ``convention="neurological"`` for the patient's right on the viewer's right
(as in FSL and SPM). Sagittal images face the viewer's left (anterior on the left) in both conventions.

Every panel is drawn with the true voxel proportions from ``spacing`` (a 1 x 1 x 5 mm scan does not look
squashed) and is labelled on its edges with the patient directions R/L, A/P and S/I.

``plot_planes`` draws into a stand-alone matplotlib ``Figure`` (no pyplot, no display needed) and can save it
as a PNG; ``show_planes_interactive`` opens a window with one slider per plane when a display is available, and
``planes_widget`` gives the same sliders in a Jupyter or Colab notebook (ipywidgets).
"""

import os
from pathlib import Path

import numpy as np

CONVENTIONS = ("radiological", "neurological")


def _volume_and_spacing(volume_or_array, spacing):
    """The array (X, Y, Z) and spacing of a ``Volume`` or a plain array; ValueError if it is not 3D."""
    if hasattr(volume_or_array, "array") and hasattr(volume_or_array, "spacing"):
        array, spacing = volume_or_array.array, volume_or_array.spacing
    else:
        array = volume_or_array
    array = np.asarray(array)
    if array.ndim == 4 and array.shape[-1] == 1:
        array = array[..., 0]  # a model input (X, Y, Z, 1)
    if array.ndim != 3 or min(array.shape) < 1:
        raise ValueError(f"plot_planes needs a 3D volume of shape (X, Y, Z), got shape {array.shape}. Pass one "
                         "volume, not a batch (take volumes[i]).")
    spacing = tuple(float(size) for size in spacing)
    if len(spacing) != 3 or not all(np.isfinite(size) and size > 0 for size in spacing):
        raise ValueError(f"spacing must be three positive voxel sizes in mm (X, Y, Z), got {spacing}.")
    return array.astype(np.float32, copy=False), spacing


def _check_point(point, shape):
    if point is None:
        return tuple(size // 2 for size in shape)
    point = tuple(int(round(float(index))) for index in point)
    if len(point) != 3 or any(not 0 <= index < size for index, size in zip(point, shape)):
        raise ValueError(f"point must be three voxel indices (x, y, z) inside the volume of shape {shape}, "
                         f"got {point}.")
    return point


def _panels(array, spacing, point):
    """(name, image (rows, columns) with row 0 at the bottom, column spacing, row spacing, crosshair, letters).

    Letters give the patient direction at (left, right, bottom, top) of the panel before any flip for the
    display convention; columns always increase to the right of the array.
    """
    x, y, z = point
    sx, sy, sz = spacing
    return [
        ("axial", array[:, :, z].T, sx, sy, (x, y), ("L", "R", "P", "A"), f"z = {z}"),
        ("coronal", array[:, y, :].T, sx, sz, (x, z), ("L", "R", "I", "S"), f"y = {y}"),
        ("sagittal", array[x, :, :].T, sy, sz, (y, z), ("P", "A", "I", "S"), f"x = {x}"),
    ]


def _mirrored(plane, convention):
    """Whether a panel is shown mirrored left-right (its array columns increase to the viewer's left).

    The conventions differ only for planes that contain the left-right axis: radiological views show the
    patient from the feet (axial) or the front (coronal), so the patient's right is on the viewer's left.
    Sagittal views have no left-right axis and are shown facing the viewer's left (anterior on the left) in both.
    """
    return plane == "sagittal" or convention == "radiological"


def _draw_panel(axis, image, column_spacing, row_spacing, cross, letters, flip, value_range, cmap):
    """Draw one plane; ``flip`` mirrors it left-right (radiological view). Returns the image artist."""
    artist = axis.imshow(image, cmap=cmap, origin="lower", vmin=value_range[0], vmax=value_range[1],
                         interpolation="nearest", aspect=row_spacing / column_spacing)
    if flip:
        axis.invert_xaxis()  # mirrors the view; data coordinates (and the crosshair) stay voxel indices
    lines = (axis.axvline(cross[0], color="yellow", linewidth=0.7, alpha=0.8),
             axis.axhline(cross[1], color="yellow", linewidth=0.7, alpha=0.8))
    left, right, bottom, top = letters
    if flip:
        left, right = right, left
    style = dict(transform=axis.transAxes, color="white", fontsize=11, fontweight="bold",
                 bbox=dict(boxstyle="round,pad=0.15", facecolor="black", alpha=0.5, linewidth=0))
    axis.text(0.02, 0.5, left, ha="left", va="center", **style)
    axis.text(0.98, 0.5, right, ha="right", va="center", **style)
    axis.text(0.5, 0.02, bottom, ha="center", va="bottom", **style)
    axis.text(0.5, 0.98, top, ha="center", va="top", **style)
    axis.set_xticks([])
    axis.set_yticks([])
    return artist, lines


def _value_range(array):
    """The 1st and 99.5th percentile, so one hot voxel does not turn the rest of the display black."""
    finite = array[np.isfinite(array)]
    if finite.size == 0:
        return 0.0, 1.0
    low, high = np.percentile(finite, (1.0, 99.5))
    return float(low), float(high if high > low else low + 1.0)


def plot_planes(volume_or_array, spacing=(1.0, 1.0, 1.0), point=None, path=None, title=None,
                convention="radiological", cmap="gray"):
    """Axial, coronal and sagittal slices through one point of a volume.

    Args:
        volume_or_array: a ``Volume`` (its spacing is used) or an array of shape (X, Y, Z) (or (X, Y, Z, 1))
            in RAS+ orientation, any dtype and value range (displayed from its 1st to 99.5th percentile).
        spacing: voxel size in mm along (X, Y, Z), for the panels' proportions; ignored for a ``Volume``.
        point: voxel indices (x, y, z) of the slices and the crosshairs; default: the centre voxel.
        path: if given, the figure is also saved there as a PNG.
        title: the figure title; the convention is appended to it.
        convention: "radiological" (patient's right on the viewer's left) or "neurological".
        cmap: a matplotlib colour map name.

    Returns:
        A ``matplotlib.figure.Figure`` with three axes (axial, coronal, sagittal), each with the four
        orientation letters as ``Text`` objects on its edges. It is not registered with pyplot (nothing to
        close, no display needed); a notebook shows it when it is the cell's value.

    Raises:
        ValueError: not a 3D volume, bad spacing, a point outside the volume, or an unknown convention.
    """
    from matplotlib.figure import Figure

    if convention not in CONVENTIONS:
        raise ValueError(f"convention must be one of {CONVENTIONS}, got {convention!r}.")
    array, spacing = _volume_and_spacing(volume_or_array, spacing)
    point = _check_point(point, array.shape)
    value_range = _value_range(array)
    figure = Figure(figsize=(11, 4.2))
    axes = figure.subplots(1, 3)
    for axis, (name, image, column_spacing, row_spacing, cross, letters, where) in zip(
            axes, _panels(array, spacing, point)):
        flip = _mirrored(name, convention)
        _draw_panel(axis, image, column_spacing, row_spacing, cross, letters, flip, value_range, cmap)
        axis.set_title(f"{name} ({where})", fontsize=10)
    heading = f"{title} — " if title else ""
    figure.suptitle(f"{heading}{convention} view, point {point}, voxel {' x '.join(f'{s:g}' for s in spacing)} mm",
                    fontsize=11)
    figure.tight_layout()
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        # As common.plots.save_figure (not imported: it would switch matplotlib to Agg): the title is never cut.
        figure.savefig(path, dpi=100, bbox_inches="tight", pad_inches=0.08)
    return figure


def display_available():
    """Whether an interactive matplotlib window can be opened (a display and a non-Agg backend)."""
    import matplotlib

    backend = matplotlib.get_backend().lower()
    interactive_backend = not any(name in backend for name in ("agg", "pdf", "svg", "ps", "cairo", "template"))
    has_display = bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) or os.name == "nt" or (
        "macosx" in backend)
    return interactive_backend and has_display


def show_planes_interactive(volume_or_array, spacing=(1.0, 1.0, 1.0), convention="radiological", cmap="gray"):
    """Open a window with the three planes and one slider per slice index (x, y, z); blocks until closed.

    Same arguments as ``plot_planes``. Needs a display; in a script without one (SSH, CI) use
    ``plot_planes(..., path="planes.png")`` instead.

    Raises:
        RuntimeError: no display, or a non-interactive matplotlib backend (the message says what to do).
    """
    if convention not in CONVENTIONS:
        raise ValueError(f"convention must be one of {CONVENTIONS}, got {convention!r}.")
    array, spacing = _volume_and_spacing(volume_or_array, spacing)
    if not display_available():
        import matplotlib

        raise RuntimeError(f"No display for an interactive window (DISPLAY is unset or the matplotlib backend is "
                           f"{matplotlib.get_backend()!r}). Use plot_planes(volume, path='planes.png') instead, or "
                           "run with a display and e.g. MPLBACKEND=TkAgg.")
    import matplotlib.pyplot as plt
    from matplotlib.widgets import Slider

    point = list(_check_point(None, array.shape))
    value_range = _value_range(array)
    figure, axes = plt.subplots(1, 3, figsize=(11, 5))
    figure.subplots_adjust(bottom=0.25)
    artists = []
    for axis, (name, image, column_spacing, row_spacing, cross, letters, _) in zip(
            axes, _panels(array, spacing, point)):
        artists.append(_draw_panel(axis, image, column_spacing, row_spacing, cross, letters,
                                   _mirrored(name, convention), value_range, cmap))
        axis.set_title(name)
    figure.suptitle(f"{convention} view")
    sliders = []
    for index, label in enumerate(("x (R-L)", "y (A-P)", "z (S-I)")):
        slider_axis = figure.add_axes([0.15, 0.14 - 0.05 * index, 0.7, 0.03])
        sliders.append(Slider(slider_axis, label, 0, array.shape[index] - 1, valinit=point[index], valstep=1))

    def update(_):
        point[:] = [int(slider.val) for slider in sliders]
        for (artist, (vertical, horizontal)), (_, image, _, _, cross, _, _) in zip(
                artists, _panels(array, spacing, point)):
            artist.set_data(image)
            vertical.set_xdata([cross[0], cross[0]])
            horizontal.set_ydata([cross[1], cross[1]])
        figure.canvas.draw_idle()

    for slider in sliders:
        slider.on_changed(update)
    plt.show()
    return figure


def planes_widget(volume_or_array, spacing=(1.0, 1.0, 1.0), title=None, convention="radiological", cmap="gray"):
    """The three planes of a volume in a notebook, with one ipywidgets slider per slice index (x, y, z).

    Same arguments as ``plot_planes``; each move of a slider redraws ``plot_planes`` through the new point.
    The widget lives only while the kernel runs (a saved notebook keeps no picture of it), so a notebook
    shows the static ``plot_planes`` figure beside it.

    Returns:
        An ``ipywidgets.VBox``: the picture (``ipywidgets.Image``, PNG) above the three ``IntSlider``s, which
        are also its ``sliders`` attribute.
    """
    import io

    import ipywidgets

    if convention not in CONVENTIONS:
        raise ValueError(f"convention must be one of {CONVENTIONS}, got {convention!r}.")
    array, spacing = _volume_and_spacing(volume_or_array, spacing)
    centre = _check_point(None, array.shape)
    picture = ipywidgets.Image(format="png")
    sliders = [ipywidgets.IntSlider(value=centre[index], min=0, max=array.shape[index] - 1, description=label,
                                    continuous_update=False, layout=ipywidgets.Layout(width="60%"))
               for index, label in enumerate(("x (R-L)", "y (A-P)", "z (S-I)"))]

    def draw(_=None):
        figure = plot_planes(array, spacing, point=tuple(slider.value for slider in sliders), title=title,
                             convention=convention, cmap=cmap)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=80, bbox_inches="tight", pad_inches=0.08)
        picture.value = buffer.getvalue()

    for slider in sliders:
        slider.observe(draw, names="value")
    draw()
    widget = ipywidgets.VBox([picture, *sliders])
    widget.sliders = sliders
    return widget
