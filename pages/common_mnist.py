"""MNIST for the pages that train (Train, Our class): whether it is on this computer, and where
it is not, the Get MNIST offer: the button, the download's progress (from its status file, so
every tab and every server shows the one download under way), why a download failed and what
to copy where without internet. The offer looks again every second, so files copied in by hand
are found without a restart. The download itself is ``model.data.mnist_download``. A helper
module, not a page."""
from __future__ import annotations

import streamlit as st

from model.data.mnist_download import (
    MEGABYTE,
    TOTAL_BYTES,
    by_hand,
    download_status,
    megabytes,
    start_download,
)
from model.data.mnist_sources import MNIST_ENV, data_copy_dir, find_mnist, mnist_dir_setting
from pages.common_errors import shown_path
from pages.common_language import _, number


def get_mnist() -> str:
    """The button's words: "Get MNIST (about 11 MB)"."""
    return _("Get MNIST (about {size} MB)").format(size=number(TOTAL_BYTES / MEGABYTE))


def mnist_here() -> bool:
    """Whether a verified MNIST is on this computer ($MNIST_DIR, or the data folder's copy)."""
    return find_mnist() is not None


def mnist_offer(why: str, allowed: bool = True, key: str = "mnist") -> None:
    """Say ``why`` MNIST is needed and offer to get it; ``allowed`` False shows the button
    disabled (a class where only the teacher, with the passcode, may fetch it)."""
    st.info(why, icon=":material/dataset:")
    if mnist_dir_setting() is not None:
        st.caption(_("`{setting}` is set on this computer, but its folder does not hold the four MNIST files "
                     "whole; Digit Lab looks in `{folder}` next, where Get MNIST puts them.").format(
            setting=MNIST_ENV, folder=shown_path(data_copy_dir())))
    _offer(allowed, key)


@st.fragment(run_every=1)
def _offer(allowed: bool, key: str) -> None:
    """The button, or the download's progress, polled once a second; the whole page runs again
    once MNIST is here, however it came."""
    if mnist_here():
        st.rerun()
    folder = data_copy_dir()
    where = shown_path(folder)
    status = download_status(folder)
    if status.running:
        st.progress(status.fraction, text=_("Downloading MNIST from {source}: {done} of {total}").format(
            source=status.source, done=megabytes(status.done), total=megabytes(status.total)))
        return
    failed = status.state == "failed"
    if failed:
        st.error(_("**MNIST could not be downloaded.**") + f" {status.message}", icon=":material/cloud_off:")
        st.markdown(by_hand(where))
    # Started in the click's callback, so the run it causes already shows the progress bar;
    # nothing starts if another tab or server is downloading already.
    st.button(_("Try again") if failed else get_mnist(), type="primary", icon=":material/download:",
              key=f"{key}_get", disabled=not allowed, on_click=start_download, args=(folder,),
              help=None if allowed else _("Only the teacher, with the passcode, fetches MNIST."))
    if not failed:
        st.caption(_("The four original MNIST files, checked against their published checksums, go into "
                     "`{folder}`, once.").format(folder=where) + f" {by_hand(where)}")
