using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace ZmqAspire.Benchmarks;

/// <summary>
/// A plain TCP relay, no SSH: one <c>socat</c> per server port (TCP_NODELAY on both legs), a
/// separate process as sshd is. It is the floor for ANY forwarder on this machine: what one more
/// process and one more pair of loopback hops cost per round trip, before encryption, channel
/// framing or flow control. Comparing it with NetMQ direct shows how much of the tunnel's ratio
/// is the relay itself (docs/benchmarks.md, "Targets").
/// </summary>
internal sealed class RelayTransport : Transport
{
    public const string SocatPath = "/usr/bin/socat";
    private readonly List<Process> _relays;

    private RelayTransport(List<Process> relays, ServerPorts ports)
        : base("relay", "plain TCP relay (socat)")
    {
        _relays = relays;
        Ports = ports;
    }

    public static RelayTransport Start(ServerPorts server)
    {
        if (!File.Exists(SocatPath))
        {
            throw new InvalidOperationException($"{SocatPath} is missing: run eng/setup.sh (installs socat)");
        }

        var relays = new List<Process>();
        try
        {
            int Relay(int target)
            {
                var port = ZmqAspire.Testing.Sshd.LoopbackPort.Free();
                // fork: a child per accepted connection (connections opened once, not per message).
                var process = Sshd.StartProcess(SocatPath,
                [
                    string.Create(CultureInfo.InvariantCulture, $"TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,nodelay"),
                    string.Create(CultureInfo.InvariantCulture, $"TCP:127.0.0.1:{target},nodelay"),
                ], new StringBuilder());
                relays.Add(process);
                var clock = Stopwatch.StartNew();
                while (!Proc.ListeningPorts().Contains(port))
                {
                    if (process.HasExited || clock.Elapsed > TimeSpan.FromSeconds(10))
                    {
                        throw new InvalidOperationException($"socat did not listen on 127.0.0.1:{port}");
                    }

                    Thread.Sleep(20);
                }

                return port;
            }

            var ports = new ServerPorts(Relay(server.Rep), Relay(server.Router), Relay(server.Pull), server.Control, Relay(server.Tcp));
            return new RelayTransport(relays, ports);
        }
        catch
        {
            relays.ForEach(Sshd.StopProcess);
            throw;
        }
    }

    public override void Dispose() => _relays.ForEach(Sshd.StopProcess);
}
