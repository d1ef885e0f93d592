use std::process::ExitCode;

use clap::Parser;

// A run allocates millions of small strings and frees them in bulk;
// mimalloc keeps the peak resident memory of a 100,000-employee run lower
// than the system allocator (`hrsync-lab bench sync` measures it). It is built
// without transparent huge pages (feature `no_thp` in the workspace Cargo.toml): a
// 2 MiB page is resident as soon as one byte of it is touched, which cost
// 15 to 25 MiB of a 100,000-employee run's peak, at the same speed.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    hrsync::tune_allocator();
    hrsync::end_quietly_on_a_closed_pipe();
    let cli = hrsync::Cli::parse();
    hrsync::init_tracing(cli.serves());
    hrsync::run(cli)
}
