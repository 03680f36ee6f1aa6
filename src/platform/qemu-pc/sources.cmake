# QEMU's `pc` / `q35` machines (SeaBIOS, Multiboot from -kernel): only the link layout is the
# board's; everything else comes from the Multiboot information and the ACPI tables.
set(CXV_PLATFORM_SOURCES)
