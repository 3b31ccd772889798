#!/usr/bin/env bash
# xen-lab.sh: a real Xen 4.17 with a Debian 12 dom0, under QEMU's software emulation, built from Debian packages
# only (nothing is installed on the host but the tools in .ci/apt-packages), for tests that need real xenstored, real
# /dev/xen/* and real Linux Xen drivers.
#
# RUN A TEST PROGRAM INSIDE DOM0
#   tests/Lab/xen-lab.sh --add ./bin/MyChecks=checks --run 'dotnet checks/MyChecks.dll' --results ./results.txt
#
#   --add SRC[=NAME]   copies SRC (a file or a folder) into dom0 at /lab/NAME (NAME defaults to SRC's basename);
#                      its .NET assemblies are precompiled (ReadyToRun, see --no-r2r).
#   --run 'COMMAND'    a shell command run in dom0 from /lab, as root; repeatable, run in order, each with a time
#                      limit (--run-timeout, default 600 s). dotnet (/lab/dotnet, the host's runtime) and pwsh
#                      (/lab/tools/pwsh, the pinned global tool) are on PATH; the module is /lab/module/VirtualDevices.
#   Check lines: a command prints one line per check on stdout, "name<TAB>pass|fail|skip<TAB>message"; anything else
#   on stdout/stderr goes to its log only. Each command also gets a check of its own, lab.command.NN (exit status
#   0, within its time limit), and the harness adds lab.xen-start (and lab.guest-create with a guest).
#   Results: --results FILE gets every check line (default ./xen-lab-results.txt); --logs DIR keeps the serial
#   console, each command's stdout/stderr, dmesg, xl dmesg, the xenstored and guest console logs, and timings.txt
#   (seconds per phase: the host's preparation, QEMU's wall and CPU time, and dom0's phases by its uptime) and
#   cpu-trace.txt (at each line of dom0's harness: seconds since QEMU started, QEMU's CPU seconds so far).
#   Exit status: 0 when every check passed or skipped, 1 when one failed, 2 on a harness error (no results: the
#   results file then holds a "lab.results fail" line saying why).
#
# ENVIRONMENT OF A COMMAND IN DOM0
#   LAB_XENSTORED (c | oxenstored, as asked), LAB_XENSTORED_DAEMON (the daemon that runs), LAB_GUEST (none | vif |
#   disk | vif,disk), LAB_BACKENDS (kernel | none), LAB_GUEST_CONFIG (xl config of the guest, when there is one),
#   LAB_GUEST_DOMID (its domain id, when the harness created it: with --backends kernel), LAB_GUEST_THIS_ROUND (1 when
#   this daemon's round created the guest, 0 when --guest-rounds left it out), LAB_GUEST_ROUNDS, LAB_RESULTS_DIR.
#   /opt/lab/guest/{vmlinuz,initrd.gz}: the PV guest's kernel (Debian's, unpacked to an ELF) and busybox ramdisk
#   (for an `xl create` of your own).
#
# MODES
#   --xenstored c|oxenstored   the xenstore daemon (XENSTORED in /etc/default/xen); default oxenstored (Debian's).
#                      Several ('c oxenstored'): one boot runs the commands once per daemon, switching daemons in
#                      between, and prefixes each check line with its daemon ("cxenstored/...", "oxenstored/...").
#   --guest none|vif|disk|vif,disk   a PV guest (Debian kernel, busybox ramdisk, 192 MiB) with a vif on bridge
#                      xenbr0 (guest 10.0.0.2, dom0 10.0.0.1) and/or a disk (xvda, /lab/guest-disk.img in dom0).
#   --guest-disk IMG   the guest's disk image (default: a 64 MiB ext4); --guest-script FILE runs in the guest
#                      (put on the guest disk as lab-guest.sh); its output is in the guest's console log.
#   --guest-rounds 'D...'      with several daemons and --backends kernel: create the guest only in these daemons'
#                      rounds (c, oxenstored; default all). Commands see LAB_GUEST_THIS_ROUND (1 or 0). Only the
#                      first round's guest meets the kernel's backends: they keep watching xenstore through the
#                      daemon that ran when they loaded, so after a switch libxl cannot add a disk or vif.
#   --guest-add SRC[=NAME]     copies SRC (a file or a folder) onto the guest disk at NAME (default: SRC's basename);
#                      the disk is mounted at /mnt in the guest while lab-guest.sh runs. Repeatable.
#   --guest-modules 'M...'     kernel modules (and what they depend on) for the guest beyond its ramdisk's, taken from
#                      dom0's cached image (same kernel), onto the guest disk in modules/ with modules/modules.list in
#                      load order: lab-guest.sh insmods them. The image (and its cache key) stays as it is.
#   --backends kernel|none     kernel: xen-blkback and xen-netback are loaded and the harness creates the guest
#                      before the commands run (so frontends meet the kernel's backends); none (default): they stay
#                      unloaded and the command creates the guest itself (`xl create "$LAB_GUEST_CONFIG"`, in the
#                      background) while it serves the backend nodes from userspace.
#
# OTHER OPTIONS
#   --timeout S (QEMU's overall limit, default 900), --build-only (build or check the cached image, boot nothing),
#   --verbose (the serial console on stderr as it comes), --no-pwsh, --no-module, --no-r2r (copy the assemblies as
#   built: dom0's emulated CPU then JITs every method pwsh and the checks run, minutes of a run).
#   ReadyToRun: crossgen2 (the NuGet package Microsoft.NETCore.App.Crossgen2.linux-x64 of the host's runtime version,
#   restored when missing) precompiles pwsh's assemblies (cached: pwsh_<version>_<runtime>), the module's and those of
#   each --add, on the host, so that dom0 runs native code from the start.
#   Cache: ${VIRTUALDEVICES_LAB_CACHE:-~/.cache/virtualdevices/xen-lab}: base_<versions>_<hash> (the packages and
#   dom0's debootstrapped root, keyed on the kernel and Xen package versions and the package list),
#   image_<hash>_<hash> (Xen, kernel, initramfs, dom0.img; also keyed on the recipe: build_image and
#   tests/Lab/image), so changing the initramfs does not debootstrap again, and pwsh_<version>_<runtime>_<hash> (the
#   pwsh tool precompiled). Older entries are removed. Temporary files go under ${TMPDIR:-/tmp} and are removed on
#   exit; QEMU is always killed.
#
# Needs root (debootstrap), qemu-system-x86, debootstrap, busybox-static, cpio, kmod, e2fsprogs, tar; network access
# to the Debian mirror on a cold cache only. Facts and pitfalls behind each choice: see comments below.
# The whole script is one block, which bash reads completely before running it: editing this file while a lab
# runs cannot change what that run does.
{
set -euo pipefail
shopt -s nullglob

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache_root=${VIRTUALDEVICES_LAB_CACHE:-$HOME/.cache/virtualdevices/xen-lab}
mirror=${VIRTUALDEVICES_LAB_MIRROR:-http://deb.debian.org/debian}
security_mirror=${VIRTUALDEVICES_LAB_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
suite=bookworm

adds=() runs=() xenstored=oxenstored guest=none guest_disk= guest_script= backends=none guest_adds=() guest_extra_modules= guest_rounds=
results=./xen-lab-results.txt logs= overall=900 run_timeout=600 build_only=0 verbose=0 with_pwsh=1 with_module=1 r2r=1
while [ $# -gt 0 ]; do
  case "$1" in
    --add) adds+=("$2"); shift 2 ;;
    --run) runs+=("$2"); shift 2 ;;
    --run-timeout) run_timeout=$2; shift 2 ;;
    --xenstored) xenstored=$2; shift 2 ;;
    --guest) guest=$2; shift 2 ;;
    --guest-disk) guest_disk=$2; shift 2 ;;
    --guest-script) guest_script=$2; shift 2 ;;
    --guest-add) guest_adds+=("$2"); shift 2 ;;
    --guest-modules) guest_extra_modules=$2; shift 2 ;;
    --guest-rounds) guest_rounds=$2; shift 2 ;;
    --backends) backends=$2; shift 2 ;;
    --results) results=$2; shift 2 ;;
    --logs) logs=$2; shift 2 ;;
    --timeout) overall=$2; shift 2 ;;
    --build-only) build_only=1; shift ;;
    --verbose) verbose=1; shift ;;
    --no-pwsh) with_pwsh=0; shift ;;
    --no-module) with_module=0; shift ;;
    --no-r2r) r2r=0; shift ;;
    -h|--help) sed -n '2,/^# The whole script is one block/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "xen-lab: unknown option $1 (--help lists them)" >&2; exit 2 ;;
  esac
done
xenstored=$(echo "$xenstored" | tr ',' ' ' | xargs)
for d in $xenstored; do
  case "$d" in c|oxenstored) ;; *) echo "xen-lab: --xenstored is c, oxenstored or both ('c oxenstored')" >&2; exit 2 ;; esac
done
[ -n "$xenstored" ] || { echo "xen-lab: --xenstored is c, oxenstored or both ('c oxenstored')" >&2; exit 2; }
case "$backends" in kernel|none) ;; *) echo "xen-lab: --backends is kernel or none" >&2; exit 2 ;; esac
case "$guest" in none|vif|disk|vif,disk|disk,vif) ;; *) echo "xen-lab: --guest is none, vif, disk or vif,disk" >&2; exit 2 ;; esac
[ "$(id -u)" = 0 ] || { echo "xen-lab: needs root (debootstrap, chroot)" >&2; exit 2; }
for tool in qemu-system-x86_64 debootstrap cpio depmod modprobe mke2fs debugfs tar apt-get dpkg xz setpriv; do
  command -v "$tool" > /dev/null || { echo "xen-lab: $tool is missing (see .ci/apt-packages)" >&2; exit 2; }
done
[ -x /bin/busybox ] && /bin/busybox --list | grep -qx switch_root || { echo "xen-lab: busybox-static is missing" >&2; exit 2; }

# A run killed with SIGKILL cannot clean up: the next run removes its temporary folder (the owner's pid is in it and
# is gone; QEMU died with it, see --pdeathsig below). Folders without the pid file are left alone.
for old in "${TMPDIR:-/tmp}"/xen-lab.*/owner.pid; do
  pid=$(cat "$old" 2>/dev/null) || continue
  [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null && rm -rf "$(dirname "$old")"
done
work=$(mktemp -d "${TMPDIR:-/tmp}/xen-lab.XXXXXX")
echo $$ > "$work/owner.pid"
qemu_pid=
cleanup() {
  if [ -n "$qemu_pid" ] && kill -0 "$qemu_pid" 2>/dev/null; then kill -9 "$qemu_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
log() { echo "xen-lab: $*" >&2; }
t0=$(date +%s)

# --- The cached image -------------------------------------------------------------------------------------------
# Versions come from apt (the kernel moves with Debian's point releases: never hard-coded).
kernel_pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
kver=${kernel_pkg#linux-image-}
kernel_version=$(apt-cache show --no-all-versions "$kernel_pkg" | awk '/^Version:/{print $2; exit}')
xen_version=$(apt-cache show --no-all-versions xen-hypervisor-4.17-amd64 | awk '/^Version:/{print $2; exit}')
[ -n "$kver" ] && [ -n "$kernel_version" ] && [ -n "$xen_version" ] || { log "apt knows no linux-image-amd64 / xen-hypervisor-4.17-amd64 (apt-get update?)"; exit 2; }

# Modules: dom0's initramfs needs the virtio disk and ext4; dom0 the Xen devices, backends, bridge and loop; the
# guest's ramdisk the Xen frontends. Dependencies are resolved with modprobe --show-depends on the unpacked kernel.
initramfs_modules="virtio_pci virtio_blk ext4"
dom0_modules="xenfs xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xen-blkback xen-netback bridge loop tun veth"
guest_modules="xen-blkfront xen-netfront ext4"
dom0_packages="xen-utils-4.17,xenstore-utils,iproute2,bridge-utils,kmod,busybox,procps,e2fsprogs,libicu72"

# Removes a build folder, first unmounting anything a killed debootstrap left mounted inside it.
remove_tree() {
  local m
  for m in $(findmnt -rn -o TARGET | grep -F "$1/" | sort -r); do umount -l "$m" 2>/dev/null || true; done
  rm -rf "$1"
}

# Stage 1, the base (slow: the network and debootstrap): the packages and dom0's root folder.
build_base() {
  local out=$1 b=$1.build
  remove_tree "$b"; mkdir -p "$b/debs"
  log "building the lab's base: kernel $kernel_pkg $kernel_version, Xen $xen_version, debootstrap $suite -> $out"
  (cd "$b/debs" && apt-get download -q "$kernel_pkg=$kernel_version" "xen-hypervisor-4.17-amd64=$xen_version" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2)
  # dom0's root: debootstrap minbase, then the security updates so that xen-utils matches the hypervisor.
  local root=$b/root
  debootstrap --variant=minbase --include="$dom0_packages" "$suite" "$root" "$mirror" > "$b/debootstrap.log" 2>&1 \
    || { tail -20 "$b/debootstrap.log" >&2; return 1; }
  printf 'deb %s %s main\ndeb %s %s-updates main\ndeb %s %s-security main\n' "$mirror" "$suite" "$mirror" "$suite" \
    "$security_mirror" "$suite" > "$root/etc/apt/sources.list"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"; chmod +x "$root/usr/sbin/policy-rc.d"
  chroot "$root" sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get -y -qq upgrade' > "$b/upgrade.log" 2>&1 \
    || { tail -20 "$b/upgrade.log" >&2; return 1; }
  local utils; utils=$(chroot "$root" dpkg-query -W -f='${Version}' xen-utils-4.17)
  [ "$utils" = "$xen_version" ] || { log "dom0 has xen-utils $utils, the hypervisor is $xen_version"; return 1; }
  chroot "$root" apt-get clean; rm -f "$root/usr/sbin/policy-rc.d"; rm -rf "$root"/var/lib/apt/lists/*
  rm -f "$b/debootstrap.log" "$b/upgrade.log"
  mv "$b" "$out"
}

# Stage 2, the image (quick): Xen, the kernel, the modules, the initramfs of dom0 and of the guest, dom0's image.
build_image() {
  local base=$1 out=$2 b=$2.build
  remove_tree "$b"; mkdir -p "$b"
  log "building the lab image -> $out"
  dpkg -x "$base"/debs/linux-image-*.deb "$b/kernel"
  dpkg -x "$base"/debs/xen-hypervisor-*.deb "$b/xen"
  # Debian's xen.gz is a 32-bit multiboot ELF once gunzipped, which QEMU's -kernel loads directly.
  gzip -dc "$b/xen/boot/xen-4.17-amd64.gz" > "$b/xen.elf"
  cp "$b/kernel/boot/vmlinuz-$kver" "$b/vmlinuz"
  depmod -b "$b/kernel" "$kver"
  depends() { for m in "$@"; do modprobe -d "$b/kernel" -S "$kver" --show-depends "$m"; done | awk '$1 == "insmod" && !seen[$2]++ {print $2}'; }

  local root=$b/root m
  cp -a "$base/root" "$root"
  echo dom0 > "$root/etc/hostname"
  : > "$root/etc/fstab"
  install -m 755 "$here/image/lab-init" "$root/sbin/lab-init"
  for m in $(depends $dom0_modules $guest_modules); do
    mkdir -p "$root/$(dirname "${m#"$b/kernel"}")"; cp "$m" "$root/${m#"$b/kernel"}"
  done
  cp "$b/kernel/lib/modules/$kver"/modules.{order,builtin,builtin.modinfo} "$root/lib/modules/$kver/"
  depmod -b "$root" "$kver"

  # The initramfs of dom0 and of the guest: busybox-static, the modules in load order, the same init.
  make_initramfs() { # role modules... -> stdout
    local role=$1 d; shift; d=$(mktemp -d "$b/initramfs.XXXX")
    mkdir -p "$d/bin" "$d/modules" "$d/dev"; cp /bin/busybox "$d/bin/busybox"; install -m 755 "$here/image/init" "$d/init"
    mknod "$d/dev/console" c 5 1   # the kernel opens it for init's stdio before anything is mounted
    echo "$role" > "$d/role"
    for m in $(depends "$@"); do cp "$m" "$d/modules/"; basename "$m"; done > "$d/modules.list"
    (cd "$d" && find . | cpio -o -H newc --quiet | gzip -9)
  }
  make_initramfs dom0 $initramfs_modules > "$b/initrd.gz"
  mkdir -p "$root/opt/lab/guest"
  # The guest's kernel as an uncompressed ELF, which a PV domain boots as well: from the bzImage, libxc (xl create)
  # would unpack its xz payload with dom0's emulated CPU at every guest creation (1 s of the host's CPU, tens of
  # seconds under TCG). The bzImage stays where the ELF cannot be had.
  local xz_at
  xz_at=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$b/vmlinuz" | awk -F: 'NR == 1 { print $1 }' || true)
  # (xz stops at the stream's end, so tail may die of SIGPIPE: not a failure.)
  if [ -n "$xz_at" ] && { tail -c +$((xz_at + 1)) "$b/vmlinuz" || true; } | xz -dc --single-stream > "$b/vmlinux" 2>/dev/null \
     && [ "$(head -c 4 "$b/vmlinux" | od -An -tx1 | tr -d ' ')" = 7f454c46 ]; then
    cp "$b/vmlinux" "$root/opt/lab/guest/vmlinuz"
  else
    log "the guest kernel stays compressed (no xz payload found in vmlinuz)"
    cp "$b/vmlinuz" "$root/opt/lab/guest/vmlinuz"
  fi
  make_initramfs guest $guest_modules > "$root/opt/lab/guest/initrd.gz"

  # The image from the folder, without loop mounts; room left for logs and what tests write.
  local size; size=$(( $(du -sm "$root" | cut -f1) + 512 ))
  mke2fs -q -t ext4 -L dom0 -d "$root" "$b/dom0.img" "${size}M" > /dev/null
  printf 'kernel %s %s\nxen %s\nbuilt %s\n' "$kernel_pkg" "$kernel_version" "$xen_version" "$(date -u +%FT%TZ)" > "$b/versions.txt"
  mkdir -p "$out"
  mv "$b/xen.elf" "$b/vmlinuz" "$b/initrd.gz" "$b/dom0.img" "$b/versions.txt" "$out/"
  remove_tree "$b"
}

base_hash=$( { declare -f build_base; echo "$dom0_packages|$suite"; } | sha256sum | cut -c1-10)
image_hash=$( { declare -f build_image; echo "$initramfs_modules|$dom0_modules|$guest_modules"; cat "$here"/image/*; } | sha256sum | cut -c1-10)
base_key="base_${kver}_${kernel_version}_xen-${xen_version}_${base_hash}"
base=$cache_root/$base_key
image=$cache_root/image_${base_hash}_${image_hash}

# --- ReadyToRun -------------------------------------------------------------------------------------------------
# Under QEMU's software emulation the JIT is the lab's slowest part: pwsh alone JITs thousands of methods of
# System.Management.Automation before its first prompt (the pwsh tool ships IL only; Microsoft.NETCore.App is
# already precompiled). crossgen2 of the runtime dom0 runs (the host's, copied in) compiles them on the host instead.
dotnet_root=$(dirname "$(readlink -f "$(command -v dotnet)")")
rt_version=$(ls "$dotnet_root/shared/Microsoft.NETCore.App" | sort -V | tail -1)
framework=$dotnet_root/shared/Microsoft.NETCore.App/$rt_version
pwsh_tools=$HOME/.dotnet/tools
pwsh_version=$(ls "$pwsh_tools/.store/powershell" 2>/dev/null | sort -V | tail -1)
# The assemblies pwsh loads to start, import the module and run the checks (the rest are loaded rarely or never).
pwsh_r2r="pwsh System.Management.Automation Microsoft.PowerShell.ConsoleHost Microsoft.PowerShell.Commands.Utility
  Microsoft.PowerShell.Commands.Management Microsoft.PowerShell.Security Microsoft.PowerShell.MarkdownRender
  Microsoft.PowerShell.GlobalTool.Shim Microsoft.Management.Infrastructure Microsoft.ApplicationInsights Newtonsoft.Json"
crossgen=

# Finds crossgen2 of the runtime's version in the NuGet cache, restoring the package when it is missing; prints why
# not when it cannot (the lab then runs JIT only, slower).
find_crossgen() {
  local c=${NUGET_PACKAGES:-$HOME/.nuget/packages}/microsoft.netcore.app.crossgen2.linux-x64/$rt_version/tools/crossgen2
  if [ ! -x "$c" ]; then
    log "restoring crossgen2 $rt_version (NuGet package Microsoft.NETCore.App.Crossgen2.linux-x64)"
    mkdir -p "$work/crossgen2"
    printf '<Project Sdk="Microsoft.NET.Sdk"><PropertyGroup><TargetFramework>net%s.0</TargetFramework></PropertyGroup><ItemGroup><PackageDownload Include="Microsoft.NETCore.App.Crossgen2.linux-x64" Version="[%s]" /></ItemGroup></Project>\n' \
      "${rt_version%%.*}" "$rt_version" > "$work/crossgen2/crossgen2.csproj"
    dotnet restore "$work/crossgen2/crossgen2.csproj" -nologo -v q > "$work/crossgen2/restore.log" 2>&1 \
      || log "restoring crossgen2 failed: $(tail -3 "$work/crossgen2/restore.log" | tr '\n' ' ')"
  fi
  if [ -x "$c" ]; then crossgen=$c; else log "no crossgen2 $rt_version: dom0 JITs everything (slower)"; fi
}

# Precompiles one assembly in place against the runtime, its own folder and the given folders. An assembly
# crossgen2 refuses (native code, already precompiled, a reference missing) stays as it was: it is JITted in dom0.
# Results are kept by content in the run's folder, so the core assembly that several payloads carry compiles once.
r2r_file() {
  local f=$1 sum out ref refs=(-r "$framework/*.dll" -r "$(dirname "$1")/*.dll"); shift
  for ref in "$@"; do refs+=(-r "$ref/*.dll"); done
  sum=$(sha256sum "$f" | cut -c1-20); out=$work/r2r/$sum.dll
  mkdir -p "$work/r2r"
  if [ ! -f "$out" ]; then
    "$crossgen" "$f" -o "$out.tmp" "${refs[@]}" --targetos linux --targetarch x64 -O > "$work/r2r/$sum.log" 2>&1 \
      && mv "$out.tmp" "$out" || { rm -f "$out.tmp"; return 1; }
  fi
  cp "$out" "$f"
}

# Precompiles every assembly under a folder (see r2r_file); prints how many.
r2r_dir() {
  local dir=$1 f n=0 kept=0; shift
  while IFS= read -r f; do
    if r2r_file "$f" "$@"; then n=$((n + 1)); else kept=$((kept + 1)); fi
  done < <(find "$dir" -name '*.dll' -type f)
  echo "$n precompiled$([ "$kept" -gt 0 ] && echo ", $kept left as IL")"
}

# The pwsh tool, precompiled (cached): its apphost and .store/powershell (the apphost finds the tool there), without
# the packages and the Windows and macOS parts.
build_pwsh() {
  local out=$1 b=$1.build unix name
  rm -rf "$b"; mkdir -p "$b"
  log "precompiling pwsh $pwsh_version for runtime $rt_version -> $out"
  cp "$pwsh_tools/pwsh" "$b/"
  (cd "$pwsh_tools" && tar -cf - --exclude='*.nupkg' --exclude='*/any/win' --exclude='runtimes/win*' --exclude='runtimes/osx*' .store/powershell) | tar -xf - -C "$b"
  unix=$(ls -d "$b"/.store/powershell/*/powershell/*/tools/*/any/unix)
  for name in $pwsh_r2r; do
    f=$(find "$b/.store/powershell" -name "$name.dll" -type f | head -1)
    [ -n "$f" ] || { log "pwsh has no $name.dll"; continue; }
    r2r_file "$f" "$unix" "$unix/runtimes/unix/lib/netstandard1.6" || log "crossgen2 left $name.dll as IL: $(tail -2 "$work/r2r/"*.log | tr '\n' ' ' | tail -c 300)"
  done
  mv "$b" "$out"
}

pwsh_entry=
if [ "$with_pwsh" = 1 ]; then
  [ -x "$pwsh_tools/pwsh" ] && [ -n "$pwsh_version" ] || { log "pwsh is not installed as a global tool in $pwsh_tools (.ci/run installs it)"; exit 2; }
  if [ "$r2r" = 1 ]; then
    pwsh_hash=$( { declare -f build_pwsh r2r_file; echo "$pwsh_r2r"; } | sha256sum | cut -c1-10)
    pwsh_entry=$cache_root/pwsh_${pwsh_version}_${rt_version}_${pwsh_hash}
  fi
fi

mkdir -p "$cache_root"
# Runs hold the cache's lock shared for their whole life; building (and removing older entries) takes it exclusive,
# so nothing is removed under a running lab and two runs never build at once.
exec 9> "$cache_root/.lock"
flock -s 9
cached() { [ -f "$image/dom0.img" ] && { [ -z "$pwsh_entry" ] || [ -d "$pwsh_entry" ]; }; }
if ! cached; then
  flock -x 9
  if ! cached; then
    for old in "$cache_root"/*; do   # a cache holds the current base, image and pwsh only (about 0.7 GiB)
      [ "$old" = "$base" ] || [ "$old" = "$image" ] || [ "$old" = "$pwsh_entry" ] || remove_tree "$old"
    done
    tb=$(date +%s)
    if [ ! -f "$image/dom0.img" ]; then
      if [ ! -d "$base/root" ]; then build_base "$base" || { remove_tree "$base.build"; log "building the base failed"; exit 2; }; fi
      build_image "$base" "$image" || { remove_tree "$image.build"; rm -rf "$image"; log "building the image failed"; exit 2; }
      log "built the image in $(( $(date +%s) - tb )) s"
    fi
    tp=$(date +%s)
    if [ -n "$pwsh_entry" ] && [ ! -d "$pwsh_entry" ]; then
      find_crossgen
      if [ -n "$crossgen" ]; then
        build_pwsh "$pwsh_entry" || { rm -rf "$pwsh_entry.build"; log "precompiling pwsh failed"; exit 2; }
        log "precompiled pwsh in $(( $(date +%s) - tp )) s"
      fi
    fi
    log "cache $(du -sh "$cache_root" | cut -f1)"
  fi
  flock -s 9
else
  log "cached image $image$([ -n "$pwsh_entry" ] && echo ", pwsh $pwsh_entry")"
fi
[ "$build_only" = 1 ] && exit 0

# --- The payload disk (/lab in dom0, rebuilt every run) ---------------------------------------------------------
tprep=$(date +%s)
[ "$r2r" = 1 ] && [ -z "$crossgen" ] && find_crossgen
p=$work/payload
mkdir -p "$p/harness" "$p/commands" "$p/dotnet/shared" "$p/tools"
install -m 755 "$here/dom0/dom0-run.sh" "$p/harness/"
# The .NET runtime, copied from this machine's SDK (no download): the host executable and Microsoft.NETCore.App only.
cp "$dotnet_root/dotnet" "$p/dotnet/"; cp -r "$dotnet_root/host" "$p/dotnet/"
mkdir -p "$p/dotnet/shared/Microsoft.NETCore.App"; cp -r "$framework" "$p/dotnet/shared/Microsoft.NETCore.App/"
pwsh_unix=
if [ "$with_pwsh" = 1 ]; then
  if [ -n "$pwsh_entry" ] && [ -d "$pwsh_entry" ]; then
    cp -r "$pwsh_entry"/. "$p/tools/"
  else
    cp "$pwsh_tools/pwsh" "$p/tools/"
    (cd "$pwsh_tools" && tar -cf - --exclude='*.nupkg' --exclude='*/any/win' --exclude='runtimes/win*' --exclude='runtimes/osx*' .store/powershell) | tar -xf - -C "$p/tools"
  fi
  pwsh_unix=$(ls -d "$p"/tools/.store/powershell/*/powershell/*/tools/*/any/unix)
fi
if [ "$with_module" = 1 ]; then
  [ -f "$repo/out/VirtualDevices/VirtualDevices.psd1" ] || { log "no module at out/VirtualDevices (dotnet build src/VirtualDevices.PowerShell -c Release)"; exit 2; }
  mkdir -p "$p/module"; cp -r "$repo/out/VirtualDevices" "$p/module/"
  [ -n "$crossgen" ] && log "module: $(r2r_dir "$p/module/VirtualDevices" ${pwsh_unix:+"$pwsh_unix"})"
fi
for a in "${adds[@]}"; do
  src=${a%%=*}; name=$(basename "$src"); [ "$a" != "$src" ] && name=${a#*=}
  [ -e "$src" ] || { log "--add $src: no such file"; exit 2; }
  mkdir -p "$(dirname "$p/$name")"; cp -r "$src" "$p/$name"
  if [ -n "$crossgen" ] && [ -n "$(find "$p/$name" -name '*.dll' -type f | head -1)" ]; then
    log "$name: $(r2r_dir "$p/$name")"
  fi
done
i=0
for r in "${runs[@]}"; do
  i=$((i + 1)); n=$(printf '%02d' "$i")
  printf '#!/bin/sh\n%s\n' "$r" > "$p/commands/$n.sh"
  echo "$run_timeout" > "$p/commands/$n.timeout"
done
if [ "$guest" != none ]; then
  case "$guest" in
    *disk*)
      if [ -n "$guest_disk" ]; then cp --sparse=always "$guest_disk" "$p/guest-disk.img"
      else
        mkdir -p "$work/guest-disk"
        [ -n "$guest_script" ] && install -m 755 "$guest_script" "$work/guest-disk/lab-guest.sh"
        for a in "${guest_adds[@]}"; do
          src=${a%%=*}; name=$(basename "$src"); [ "$a" != "$src" ] && name=${a#*=}
          [ -e "$src" ] || { log "--guest-add $src: no such file"; exit 2; }
          mkdir -p "$(dirname "$work/guest-disk/$name")"; cp -r "$src" "$work/guest-disk/$name"
        done
        # Modules from dom0's image (debugfs reads the ext4 image without mounting it): each after what it depends
        # on (modules.dep), once. A module the image lacks is left out and said: the guest's checks then fail on it.
        if [ -n "$guest_extra_modules" ]; then
          mkdir -p "$work/guest-disk/modules"; : > "$work/guest-disk/modules/modules.list"
          debugfs -R "cat /lib/modules/$kver/modules.dep" "$image/dom0.img" > "$work/modules.dep" 2>/dev/null || true
          for m in $guest_extra_modules; do
            want=$(echo "$m" | tr _ -)
            line=$(awk -F: -v m="$want" '{ n = $1; sub(/.*\//, "", n); sub(/\.ko.*/, "", n); gsub(/_/, "-", n) } n == m { print; exit }' "$work/modules.dep")
            [ -n "$line" ] || { log "--guest-modules: $m is not in dom0's image"; continue; }
            for f in $(echo "${line#*:}" | tr ' ' '\n' | tac) "${line%%:*}"; do
              grep -qx "$(basename "$f")" "$work/guest-disk/modules/modules.list" && continue
              debugfs -R "dump /lib/modules/$kver/$f $work/guest-disk/modules/$(basename "$f")" "$image/dom0.img" > /dev/null 2>&1 \
                && [ -s "$work/guest-disk/modules/$(basename "$f")" ] && basename "$f" >> "$work/guest-disk/modules/modules.list" \
                || log "--guest-modules: could not read $f from dom0's image"
            done
          done
        fi
        mke2fs -q -t ext4 -d "$work/guest-disk" "$p/guest-disk.img" 64M > /dev/null
      fi ;;
  esac
fi
printf 'LAB_XENSTORED="%s"\nLAB_GUEST=%s\nLAB_BACKENDS=%s\nLAB_GUEST_ROUNDS="%s"\nLAB_RESULTS_DIR=/results\nexport LAB_XENSTORED LAB_GUEST LAB_BACKENDS LAB_GUEST_ROUNDS LAB_RESULTS_DIR\n' \
  "$xenstored" "$guest" "$backends" "$(echo "$guest_rounds" | tr ',' ' ')" > "$p/lab.conf"
payload_mb=$(( $(du -sm "$p" | cut -f1) * 5 / 4 + 256 ))
mke2fs -q -t ext4 -L lab -d "$p" "$work/payload.img" "${payload_mb}M" > /dev/null
rm -rf "$p"
truncate -s 256M "$work/results.img"
prepare_secs=$(( $(date +%s) - tprep ))

# --- Boot -------------------------------------------------------------------------------------------------------
# Facts (../shared/xen-lab.md): /dev/kvm here cannot run a stock kernel, so TCG; -cpu max offers SVM (HVM/HAP for
# Xen) but needs smap=0 (else dom0 dies in create_bounce_frame) and -rdtscp (else PVH/HVM guests loop in SVM
# instruction-length emulation). dom0's disk is used with snapshot=on: the cached image is never written.
# xsave=0: with a second domain running beside dom0, QEMU 7.2's TCG and Xen's XSAVE-based switching of the vCPUs'
# extended (AVX) state corrupted user registers: dom0's dotnet died at start with "malloc(): corrupted top size" and
# the guest's busybox took a general protection fault, both while the guest ran (never with dom0 alone). Without
# XSAVE, Xen switches with FXSAVE and offers no AVX: user code takes its SSE paths.
# bootscrub=0: Xen otherwise scrubs all free memory (about 1 GiB here) with the emulated CPU whenever it idles.
# QEMU runs multi-threaded TCG (one host thread per vCPU, the default for an x86 guest on an x86 host).
console=$work/console.log
log "booting Xen + dom0 (xenstored=$xenstored guest=$guest backends=$backends, ${#runs[@]} command(s), limit ${overall} s; prepared in ${prepare_secs} s)"
tq=$(date +%s)
# setpriv --pdeathsig: QEMU is killed when this script dies, even of a SIGKILL that no trap sees.
setpriv --pdeathsig KILL qemu-system-x86_64 -accel tcg,thread=multi -cpu max,-rdtscp -m 2048 -smp 2 \
  -kernel "$image/xen.elf" \
  -append 'console=com1 com1=115200,8n1 dom0_mem=1024M,max:1024M bootscrub=0 loglvl=all guest_loglvl=all smap=0 xsave=0' \
  -initrd "$image/vmlinuz console=hvc0 quiet,$image/initrd.gz" \
  -drive "file=$image/dom0.img,if=virtio,format=raw,snapshot=on" \
  -drive "file=$work/payload.img,if=virtio,format=raw" \
  -drive "file=$work/results.img,if=virtio,format=raw" \
  -nic none -display none -monitor none -no-reboot -serial "file:$console" < /dev/null > "$work/qemu.log" 2>&1 &
qemu_pid=$!
tail_pid=
if [ "$verbose" = 1 ]; then tail -n +1 -F "$console" >&2 2>/dev/null & tail_pid=$!; fi
deadline=$(( $(date +%s) + overall ))
# QEMU's CPU time (utime + stime of /proc/PID/stat, in clock ticks), read while it runs: on a shared machine the
# wall time says more about the neighbours than about the lab.
# The host's clock also marks when dom0's harness said it was up and when it had written its results (the
# console's lines), which splits QEMU's run into Xen + dom0 boot, dom0's work, and power-off.
# cpu-trace.txt: at each line of dom0's harness (a phase starts or ends), the seconds since QEMU started and QEMU's
# CPU seconds so far, which give each phase's CPU cost whatever the neighbours do.
ticks=0 hz=$(getconf CLK_TCK) seen_up= seen_written= marks=0
: > "$work/cpu-trace.txt"
while kill -0 "$qemu_pid" 2>/dev/null && [ "$(date +%s)" -lt "$deadline" ]; do
  t=$(awk '{ print $14 + $15 }' "/proc/$qemu_pid/stat" 2>/dev/null) && [ -n "$t" ] && ticks=$t
  if [ -z "$seen_up" ] && grep -q 'lab-dom0: dom0 up' "$console" 2>/dev/null; then seen_up=$(( $(date +%s) - tq )); fi
  if [ -z "$seen_written" ] && grep -q 'lab-dom0: results written' "$console" 2>/dev/null; then seen_written=$(( $(date +%s) - tq )); fi
  m=$( (tr -d '\r' < "$console") 2>/dev/null | grep -a -c -E '^lab-dom0: (dom0 up|running command|check [^ ]*lab\.|writing results)' || true)
  [ -d "$work" ] || { log "$work was removed under the running lab (by something else): stopping"; break; }
  if [ "$m" -gt "$marks" ]; then
    tr -d '\r' < "$console" | grep -a -E '^lab-dom0: (dom0 up|running command|check [^ ]*lab\.|writing results)' | sed -n "$((marks + 1)),${m}p" \
      | cut -c1-90 | awk -v e=$(( $(date +%s) - tq )) -v c=$(( ticks / hz )) '{ printf "%d\t%d\t%s\n", e, c, $0 }' >> "$work/cpu-trace.txt"
    marks=$m
  fi
  sleep 1
done
timed_out=0
if kill -0 "$qemu_pid" 2>/dev/null; then timed_out=1; kill -9 "$qemu_pid" 2>/dev/null || true; fi
wait "$qemu_pid" 2>/dev/null || true
qemu_pid=
[ -n "$tail_pid" ] && kill "$tail_pid" 2>/dev/null || true
qemu_secs=$(( $(date +%s) - tq ))
log "QEMU ran $qemu_secs s (CPU $(( ticks / hz )) s, load $(cut -d' ' -f1-3 /proc/loadavg))$([ "$timed_out" = 1 ] && echo " and was killed at the overall limit")"
# --- Results ----------------------------------------------------------------------------------------------------
out=$work/out
mkdir -p "$out"
tar -xf "$work/results.img" -C "$out" 2>/dev/null || true
cp "$console" "$out/console.log"; cp "$work/qemu.log" "$out/qemu.log"
mkdir -p "$(dirname "$results")"
status=0
if [ -s "$out/results.txt" ]; then
  cp "$out/results.txt" "$results"
  grep -q "$(printf '\tfail\t')" "$results" && status=1
else
  # The lines dom0 also printed on the console (those of the commands that finished) are kept.
  tr -d '\r' < "$console" | sed -n "s/^lab-result$(printf '\t')//p" > "$results"
  why="no results came back ($(wc -l < "$results") lines recovered from the console)"
  [ "$timed_out" = 1 ] && why="$why (QEMU killed after ${overall} s)"
  why="$why; console tail: $(tail -c 400 "$console" | tr -d '\r' | tr '\n\t' '  ')"
  printf 'lab.results\tfail\t%s\n' "$why" >> "$results"
  status=2
fi
# Timings: the host's phases, then dom0's (timings.txt from the results disk: phase, dom0 uptime at its start,
# seconds). The summary line names each phase in order.
{
  printf 'host.prepare\t-\t%s\n' "$prepare_secs"
  printf 'host.qemu\t-\t%s\n' "$qemu_secs"
  printf 'host.qemu-cpu\t-\t%s\n' "$(( ticks / hz ))"
  [ -n "$seen_up" ] && printf 'host.xen-dom0-boot\t-\t%s\n' "$seen_up"
  [ -n "$seen_written" ] && printf 'host.poweroff\t-\t%s\n' "$(( qemu_secs - seen_written ))"
  cat "$out/timings.txt" 2>/dev/null || true
} > "$work/timings.txt"
mv "$work/timings.txt" "$out/timings.txt"
mv "$work/cpu-trace.txt" "$out/cpu-trace.txt"
log "timings (s): $(awk -F'\t' '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $1, $3 }' "$out/timings.txt")"
if [ -n "$logs" ]; then rm -rf "$logs"; mkdir -p "$logs"; cp -r "$out"/. "$logs/"; fi
awk -F'\t' '{ n[$2]++ } $2 == "fail" { print "xen-lab: FAIL " $1 ": " $3 > "/dev/stderr" }
  END { printf "xen-lab: %d passed, %d failed, %d skipped\n", n["pass"], n["fail"], n["skip"] > "/dev/stderr" }' "$results"
log "done in $(( $(date +%s) - t0 )) s; results in $results$([ -n "$logs" ] && echo ", logs in $logs")"
exit "$status"
exit
}
