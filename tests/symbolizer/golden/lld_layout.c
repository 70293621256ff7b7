// Source of lld_layout.elf, kept as built (a golden file: the test must not depend on the lld
// version at hand) with:  clang -O2 -g -fuse-ld=lld -Wl,--build-id -o lld_layout.elf lld_layout.c
// clang 14 and lld 14 (Debian 12). Its program headers, as `readelf -lW` prints them:
//   LOAD 0x000000 0x0000000000000000 ... 0x00064c 0x00064c R   0x1000
//   LOAD 0x000650 0x0000000000001650 ... 0x000160 0x000160 R E 0x1000
//   LOAD 0x0007b0 0x00000000000027b0 ... 0x0001e8 0x0001e8 RW  0x1000
// The executable segment starts in the file page (offset 0) that the read-only segment also
// holds, while its addresses start a page higher: a mapping at offset 0 is 0x1000 off if the
// wrong segment translates it.
__attribute__((noinline)) int first_function(int x) { return x * 3 + 1; }
__attribute__((noinline)) int second_function(int x) { return first_function(x) ^ 0x55; }
int main(int argc, char** argv) { (void)argv; return second_function(argc); }
