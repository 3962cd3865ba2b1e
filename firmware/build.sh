#!/usr/bin/env bash
# firmware/build.sh — builds one Arduino sketch for the Arduino Uno (ATmega328P) with avr-gcc and
# Debian's Arduino core (arduino-core-avr) through arduino-mk, and reports its flash and RAM use.
#
#   firmware/build.sh SKETCH_DIR OUT_DIR [NAME] [-DMACRO=VALUE ...]
#
# Writes OUT_DIR/NAME.elf, OUT_DIR/NAME.hex and OUT_DIR/NAME.size (the report, also printed on
# stdout); NAME defaults to the sketch folder's name, and -D... go to the compiler (e.g. ldr_seq's
# -DPERIOD_MS=100 -DBAUD=115200). Objects go to OUT_DIR/NAME.build/, never into the source tree.
# meson calls it from firmware/meson.build; it also runs on its own.
set -euo pipefail

if [ $# -lt 2 ]; then
    sed -n '2,10s/^# \{0,1\}//p' "$0" >&2
    exit 2
fi
sketch_dir=$(cd "$1" && pwd)
mkdir -p "$2"
out_dir=$(cd "$2" && pwd)
shift 2
name=$(basename "$sketch_dir")
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
    name=$1
    shift
fi
defines=("$@")
for d in "${defines[@]}"; do
    case $d in
        -D*) ;;
        *) echo "build.sh: '$d' is not a -DMACRO[=VALUE]" >&2; exit 2 ;;
    esac
done

ARDUINO_DIR=${ARDUINO_DIR:-/usr/share/arduino}
for tool in avr-gcc avr-g++ avr-objcopy avr-size make; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "build.sh: $tool not found (Debian: apt-get install gcc-avr avr-libc arduino-core-avr arduino-mk make)" >&2
        exit 1
    }
done
[ -f "$ARDUINO_DIR/Arduino.mk" ] && [ -d "$ARDUINO_DIR/hardware/arduino/avr/cores/arduino" ] || {
    echo "build.sh: no Arduino.mk or Arduino AVR core under $ARDUINO_DIR (Debian: apt-get install arduino-mk arduino-core-avr)" >&2
    exit 1
}
inos=("$sketch_dir"/*.ino)
[ -f "${inos[0]}" ] || { echo "build.sh: no .ino in $sketch_dir" >&2; exit 1; }

# arduino-mk builds the sketch found in its current directory: give it a copy of the sketch and a
# Makefile of its own in the build tree.
work=$out_dir/$name.build
mkdir -p "$work"
rm -f "$work"/*.ino
cp "${inos[@]}" "$work/"
{
    echo "ARDUINO_DIR   = $ARDUINO_DIR"
    echo "ARDMK_DIR     = $ARDUINO_DIR"
    echo "AVR_TOOLS_DIR = /usr"
    echo "BOARD_TAG     = uno"
    echo "TARGET        = $name"
    echo "OBJDIR        = $work/obj"
    # Debian 12's avr-libc has no DECIMAL_DIG, which the core's WString.cpp needs.
    echo "CPPFLAGS     += -DDECIMAL_DIG=__DECIMAL_DIG__ ${defines[*]}"
    echo "include $ARDUINO_DIR/Arduino.mk"
} >"$work/Makefile.new"
# A changed Makefile (other -D...) means the objects are stale.
if ! cmp -s "$work/Makefile.new" "$work/Makefile"; then
    rm -rf "$work/obj"
    mv "$work/Makefile.new" "$work/Makefile"
else
    rm -f "$work/Makefile.new"
fi

jobs=$(nproc 2>/dev/null || echo 2)
# The host's compiler flags (a Debian package build exports dpkg-buildflags' CFLAGS, CXXFLAGS, ...,
# which Arduino.mk appends) are for the host's compiler, not avr-gcc: the sketches get none.
unset CFLAGS CXXFLAGS CPPFLAGS LDFLAGS ASFLAGS
if ! log=$(make -C "$work" -j"$jobs" --no-print-directory 2>&1); then
    printf '%s\n' "$log" >&2
    echo "build.sh: building $name failed" >&2
    exit 1
fi
cp "$work/obj/$name.elf" "$out_dir/$name.elf"
cp "$work/obj/$name.hex" "$out_dir/$name.hex"

# Flash = .text + .data (the initial values of .data are stored in flash); RAM = .data + .bss,
# static use only (the stack comes on top). The Uno has 32256 B of flash for a sketch (the rest holds
# the bootloader) and 2048 B of RAM.
read -r text data bss _ < <(avr-size "$out_dir/$name.elf" | tail -n 1)
flash=$((text + data))
ram=$((data + bss))
report=$(printf '%s: flash %d B of 32256 (%d.%d%%), RAM %d B of 2048 (%d.%d%%) [text %d, data %d, bss %d]%s' \
    "$name" "$flash" $((flash * 100 / 32256)) $((flash * 1000 / 32256 % 10)) \
    "$ram" $((ram * 100 / 2048)) $((ram * 1000 / 2048 % 10)) "$text" "$data" "$bss" \
    "${defines[*]:+ (${defines[*]})}")
printf '%s\n' "$report" | tee "$out_dir/$name.size"
