using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using NetMQ;
using NetMQ.Sockets;
using ZmqAspire.Tunneling;

namespace ZmqAspire.SshTunnel.Tests;

/// <summary>A service's generic host, as a worker builds it, with its configuration given in memory.</summary>
internal static class TunnelHost
{
    /// <summary>How long a test waits for a tunnel to come up, or for a reply (generous: the machine is shared).</summary>
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    /// <summary>
    /// A host builder with only <paramref name="configuration"/> (no environment variables or
    /// appsettings, which could carry a <c>ConnectionStrings__server</c> of their own).
    /// </summary>
    public static HostApplicationBuilder Builder(params (string Key, string? Value)[] configuration)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(configuration.Select(c => new KeyValuePair<string, string?>(c.Key, c.Value)));
        return builder;
    }

    /// <summary>Waits until <paramref name="condition"/> holds.</summary>
    /// <exception cref="TimeoutException">It did not within <paramref name="timeout"/>.</exception>
    public static async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"the condition did not hold within {timeout.TotalSeconds} s");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>Sends "Hello" on a new REQ socket connected to <paramref name="endpoint"/> and returns the reply.</summary>
    /// <exception cref="TimeoutException">No reply within <see cref="Patience"/>.</exception>
    public static Task<string> RequestAsync(TcpEndpoint endpoint) => Task.Run(() =>
    {
        using var socket = new RequestSocket();
        socket.Options.Linger = TimeSpan.Zero;
        socket.Connect(endpoint.ToString());
        socket.SendFrame("Hello");
        return socket.TryReceiveFrameString(Patience, out var reply)
            ? reply
            : throw new TimeoutException($"no reply through {endpoint} within {Patience.TotalSeconds} s");
    });
}
