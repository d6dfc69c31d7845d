//! The benchmark's own XDP programs: the floor every scanguard figure is divided by, reference
//! programs that each add one of scanguard's building blocks to it, and the traffic generator:
//! a program that BPF_PROG_TEST_RUN runs in live-frames mode, or, where the kernel refuses that
//! mode, a relay that passes on the frames a packet socket feeds it.
#![no_std]
#![no_main]

mod checksum;

use aya_ebpf::{
    Global,
    bindings::xdp_action,
    helpers::{bpf_jiffies64, bpf_ktime_get_boot_ns, bpf_ktime_get_coarse_ns, bpf_redirect},
    macros::{map, xdp},
    maps::{LruHashMap, PerCpuArray},
    programs::XdpContext,
};

/// The floor for verdict-passing cases: nothing but the return.
#[xdp]
pub fn floor_pass(_ctx: XdpContext) -> u32 {
    xdp_action::XDP_PASS
}

/// The floor for dropping cases, and the fastest possible XDP drop on a link.
#[xdp]
pub fn floor_drop(_ctx: XdpContext) -> u32 {
    xdp_action::XDP_DROP
}

/// Reference for the flood: the floor plus the one read of the frame every source filter makes
/// (the IPv4 source address), which brings the frame's first cache line in. Drops all IPv4.
#[xdp]
pub fn ref_read_drop(ctx: XdpContext) -> u32 {
    if ctx.data() + IP_SOURCE + 4 > ctx.data_end() {
        return xdp_action::XDP_PASS;
    }
    // SAFETY: the source address is inside the frame, checked above.
    let source = unsafe { read4((ctx.data() + IP_SOURCE) as *const u8) };
    if source == [0; 4] {
        xdp_action::XDP_PASS
    } else {
        xdp_action::XDP_DROP
    }
}

/// Reference: the floor plus one per-CPU counter increment, as every scanguard verdict does.
#[xdp]
pub fn ref_counter(_ctx: XdpContext) -> u32 {
    if let Some(count) = REF_COUNTER.get_ptr_mut(0) {
        // SAFETY: the per-CPU entry is only touched by this CPU while the program runs.
        unsafe { *count += 1 };
    }
    xdp_action::XDP_PASS
}

/// Passes, unless the clock read reads zero: using the value keeps the call.
#[inline(always)]
fn pass_after(now: u64) -> u32 {
    if now == 0 {
        xdp_action::XDP_DROP
    } else {
        xdp_action::XDP_PASS
    }
}

/// Reference: the floor plus one read of the boot clock, as scanguard stamps each IP packet.
#[xdp]
pub fn ref_clock(_ctx: XdpContext) -> u32 {
    // SAFETY: the helper has no preconditions.
    pass_after(unsafe { bpf_ktime_get_boot_ns() })
}

/// Reference: the floor plus one read of the coarse monotonic clock (the last tick's time).
#[xdp]
pub fn ref_coarse_clock(_ctx: XdpContext) -> u32 {
    // SAFETY: the helper has no preconditions.
    pass_after(unsafe { bpf_ktime_get_coarse_ns() })
}

/// Reference: the floor plus one read of jiffies, which the verifier inlines into a load.
#[xdp]
pub fn ref_jiffies(_ctx: XdpContext) -> u32 {
    // SAFETY: the helper has no preconditions.
    pass_after(unsafe { bpf_jiffies64() })
}

/// Reference: the least a ban-list filter does: read the source address (IPv4 in its
/// IPv4-mapped form, as scanguard keys it), one LRU hash lookup, drop on a hit.
#[xdp]
pub fn ref_lookup(ctx: XdpContext) -> u32 {
    let start = ctx.data();
    let end = ctx.data_end();
    if start + ETHERNET_LEN + 40 > end {
        return xdp_action::XDP_PASS;
    }
    let frame = start as *const u8;
    let mut key = [0u8; 16];
    // SAFETY: every offset read is below ETHERNET_LEN + 40, checked above.
    unsafe {
        match [*frame.add(12), *frame.add(13)] {
            ETHERTYPE_IPV4 => {
                key[10] = 0xff;
                key[11] = 0xff;
                let source = read4(frame.add(IP_SOURCE));
                key[12..].copy_from_slice(&source);
            }
            ETHERTYPE_IPV6 => {
                for (i, byte) in key.iter_mut().enumerate() {
                    *byte = *frame.add(ETHERNET_LEN + 8 + i);
                }
            }
            _ => return xdp_action::XDP_PASS,
        }
    }
    // SAFETY: the value is only read for its presence.
    match unsafe { REF_BANS.get(&key) } {
        Some(_) => xdp_action::XDP_DROP,
        None => xdp_action::XDP_PASS,
    }
}

#[map]
static REF_COUNTER: PerCpuArray<u64> = PerCpuArray::with_max_entries(1, 0);

/// Same key as scanguard's ban map; userspace inserts the banned sources.
#[map]
static REF_BANS: LruHashMap<[u8; 16], u64> = LruHashMap::with_max_entries(65_536, 0);

/// How many distinct IPv4 sources the generator cycles through; 0 sends the frame unchanged.
#[unsafe(no_mangle)]
static SOURCES: Global<u32> = Global::new(0);
/// The first source address (host byte order); the n-th frame comes from `SOURCE_BASE + n % SOURCES`.
#[unsafe(no_mangle)]
static SOURCE_BASE: Global<u32> = Global::new(0);
/// The interface the generator transmits on; `trafgen` acts only on frames "from" it (live
/// frames arrive from the interface they are sent on), so it can never bounce other traffic,
/// wherever it is attached.
#[unsafe(no_mangle)]
static TX_IFINDEX: Global<u32> = Global::new(0);
/// The relay's feed: `relay` acts only on frames that arrive there.
#[unsafe(no_mangle)]
static FEED_IFINDEX: Global<u32> = Global::new(0);

/// Frames sent on each CPU, which also numbers the sources.
#[map]
static GENERATED: PerCpuArray<u64> = PerCpuArray::with_max_entries(1, 0);

const ETHERNET_LEN: usize = 14;
const ETHERTYPE_IPV4: [u8; 2] = [0x08, 0x00];
const ETHERTYPE_IPV6: [u8; 2] = [0x86, 0xdd];
const IPV4_LEN: usize = 20;
const PROTOCOL_TCP: u8 = 6;
/// Offsets inside the frame, for an untagged IPv4 frame without options.
const IP_CHECKSUM: usize = ETHERNET_LEN + 10;
const IP_SOURCE: usize = ETHERNET_LEN + 12;
const TCP_CHECKSUM: usize = ETHERNET_LEN + IPV4_LEN + 16;

/// The generator: BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES turns XDP_TX into a
/// transmission out of the interface named in the context (net/bpf/test_run.c,
/// `xdp_test_run_batch`).
#[xdp]
pub fn trafgen(ctx: XdpContext) -> u32 {
    match number(&ctx, TX_IFINDEX.load()) {
        Ok(()) => xdp_action::XDP_TX,
        Err(action) => action,
    }
}

/// The generator where live frames are refused: attached to the far end of a veth pair that a
/// packet socket writes to, it redirects each frame out of the sender's veth, so the receiver
/// gets it as an XDP frame, as it gets live frames.
#[xdp]
pub fn relay(ctx: XdpContext) -> u32 {
    match number(&ctx, FEED_IFINDEX.load()) {
        // SAFETY: the helper has no preconditions; the index names an interface of the
        // namespace the program runs in.
        Ok(()) => unsafe { bpf_redirect(TX_IFINDEX.load(), 0) as u32 },
        Err(action) => action,
    }
}

/// Counts the frame sent and, with `SOURCES` set, gives it the next source address, with both
/// checksums updated (RFC 1624), so every receiver sees a well-formed datagram. `Err` holds the
/// verdict for a frame that did not arrive on `ifindex`, which is left alone.
#[inline(always)]
fn number(ctx: &XdpContext, ifindex: u32) -> Result<(), u32> {
    if ctx.ingress_ifindex() as u32 != ifindex {
        return Err(xdp_action::XDP_PASS);
    }
    let Some(sent) = GENERATED.get_ptr_mut(0) else {
        return Err(xdp_action::XDP_ABORTED);
    };
    // SAFETY: the per-CPU entry is only touched by this CPU while the program runs.
    let n = unsafe {
        let n = *sent;
        *sent = n + 1;
        n
    };
    let sources = SOURCES.load();
    if sources != 0 {
        rewrite_source(ctx, (n % u64::from(sources)) as u32);
    }
    Ok(())
}

#[inline(always)]
fn rewrite_source(ctx: &XdpContext, index: u32) {
    let start = ctx.data();
    if start + TCP_CHECKSUM + 2 > ctx.data_end() {
        return;
    }
    let frame = start as *mut u8;
    // SAFETY: every offset below is inside [start, start + TCP_CHECKSUM + 2), checked above.
    unsafe {
        if [*frame.add(12), *frame.add(13)] != ETHERTYPE_IPV4 || *frame.add(ETHERNET_LEN) != 0x45 {
            return;
        }
        let new = SOURCE_BASE.load().wrapping_add(index).to_be_bytes();
        let old = read4(frame.add(IP_SOURCE));
        write4(frame.add(IP_SOURCE), new);
        let ip_sum = read2(frame.add(IP_CHECKSUM));
        write2(frame.add(IP_CHECKSUM), checksum::replace4(ip_sum, old, new));
        if *frame.add(ETHERNET_LEN + 9) == PROTOCOL_TCP {
            // The TCP checksum covers the pseudo-header, source address included.
            let tcp_sum = read2(frame.add(TCP_CHECKSUM));
            write2(
                frame.add(TCP_CHECKSUM),
                checksum::replace4(tcp_sum, old, new),
            );
        }
    }
}

#[inline(always)]
unsafe fn read2(at: *const u8) -> [u8; 2] {
    // SAFETY: the caller checked the bounds.
    unsafe { [*at, *at.add(1)] }
}

#[inline(always)]
unsafe fn write2(at: *mut u8, bytes: [u8; 2]) {
    // SAFETY: the caller checked the bounds.
    unsafe {
        *at = bytes[0];
        *at.add(1) = bytes[1];
    }
}

#[inline(always)]
unsafe fn read4(at: *const u8) -> [u8; 4] {
    // SAFETY: the caller checked the bounds.
    unsafe { [*at, *at.add(1), *at.add(2), *at.add(3)] }
}

#[inline(always)]
unsafe fn write4(at: *mut u8, bytes: [u8; 4]) {
    // SAFETY: the caller checked the bounds.
    unsafe {
        write2(at, [bytes[0], bytes[1]]);
        write2(at.add(2), [bytes[2], bytes[3]]);
    }
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
