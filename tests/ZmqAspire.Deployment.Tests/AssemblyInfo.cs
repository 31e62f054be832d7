using System.Runtime.Versioning;

// Each test brings up containers on a 2-core machine: one deployment at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

// Docker, docker-compose, OpenSSH and Debian's python3: these tests run on Linux only.
[assembly: SupportedOSPlatform("linux")]
