using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using Renci.SshNet;
using Renci.SshNet.Common;
using Renci.SshNet.Messages;
using Renci.SshNet.Messages.Connection;

namespace ZmqAspire.Tunneling;

/// <summary>
/// Our own TCP forwarding channels on an SSH.NET session (<see cref="RelayChannel"/>): opens
/// "direct-tcpip" channels for local forwards, accepts "forwarded-tcpip" channels for remote
/// forwards, and routes the session's channel messages to them by channel number.
/// </summary>
/// <remarks>
/// <para>
/// Why our own channels rather than SSH.NET's (<c>ChannelDirectTcpip</c>,
/// <c>ChannelForwardedTcpip</c>): those write to the local socket with a blocking send on the
/// session's single receive thread and reopen the SSH window before the data is written, over a
/// 2 GiB window, so one stalled local reader blocks every channel of the session and nothing
/// holds the remote writer back. RFC 4254 section 5.2 makes the window the receiver's tool for
/// exactly this: a channel's window is reopened only for data its local socket has taken, and
/// the other channels are never waited for. SSH.NET offers no public way to open or accept a
/// TCP channel (sshnet/SSH.NET#732), and its window handling is private, so the channel is ours.
/// </para>
/// <para>
/// What is reached by reflection: the internal <c>Session</c> object (<c>BaseClient.Session</c>),
/// its internal <c>SendMessage(Message)</c>, and its public channel message events. The messages
/// themselves are SSH.NET's public types. Our channel numbers start at 0x40000000, far above
/// SSH.NET's own (counted from 0), so both can share a session; SSH.NET's channels ignore
/// messages for numbers that are not theirs and so do ours. When a member is missing (another
/// SSH.NET) <see cref="TryAttach"/> returns null and SSH.NET's channels are used as before.
/// </para>
/// </remarks>
internal sealed partial class ChannelMux : IDisposable
{
    private const BindingFlags NonPublicInstance = BindingFlags.Instance | BindingFlags.NonPublic;
    private const uint FirstChannel = 0x4000_0000;

    private static readonly PropertyInfo? SessionProperty = typeof(BaseClient).GetProperty("Session", NonPublicInstance);
    private static readonly MethodInfo? SendMethod = SshFastPath.SshNetSessionType?.GetMethod("SendMessage", NonPublicInstance, [typeof(Message)]);

    private readonly object _session;
    private readonly Action<Message> _send;
    private readonly ConcurrentDictionary<uint, RelayChannel> _channels = new();
    private readonly ConcurrentDictionary<RelayChannel, object> _owners = new();
    private readonly ConcurrentDictionary<(string Host, uint Port), RemoteRoute> _remoteRoutes = new();
    private readonly List<(EventInfo Event, Delegate Handler)> _subscriptions = [];
    private readonly TimeSpan _openTimeout;
    private int _nextChannel = unchecked((int)FirstChannel);
    private volatile bool _disposed;

    private ChannelMux(object session, Action<Message> send, TimeSpan openTimeout, uint windowSize)
    {
        WindowSize = windowSize;
        _session = session;
        _send = send;
        _openTimeout = openTimeout;
    }

    /// <summary>
    /// Gets a value indicating whether our channels may be used: they are unless
    /// <c>ZMQASPIRE_TUNNEL_OWNCHANNELS=0</c> (an escape hatch back to SSH.NET's channels, should a
    /// future SSH.NET misbehave with them). Independent of <c>ZMQASPIRE_TUNNEL_FASTPATH</c>: flow
    /// control is a matter of correctness, not of speed.
    /// </summary>
    internal static bool Enabled { get; } = Environment.GetEnvironmentVariable("ZMQASPIRE_TUNNEL_OWNCHANNELS") != "0";

    /// <summary>Raised (on SSH.NET's receive thread) when the server refuses to open one of our channels, naming its target.</summary>
    public event Action<SshForwardException>? ChannelRefused;

    /// <summary>
    /// Attaches to <paramref name="client"/>'s session. Returns null when turned off
    /// (<see cref="Enabled"/>) or SSH.NET lacks a member we need; the caller then uses SSH.NET's channels.
    /// </summary>
    /// <param name="client">A connected client.</param>
    /// <param name="openTimeout">How long to wait for the server to answer a channel open.</param>
    /// <param name="windowSize">The window our channels advertise to the server, in bytes (<see cref="SshTunnelOptions.ChannelWindowSize"/>).</param>
    public static ChannelMux? TryAttach(SshClient client, TimeSpan openTimeout, uint windowSize = RelayChannel.OpenSshWindowSize)
    {
        if (!Enabled || SendMethod is null || SshFastPath.SshNetSessionType is not { } sessionType)
        {
            return null;
        }

        var session = SessionProperty?.GetValue(client);
        if (session is null || session.GetType() != sessionType)
        {
            return null;
        }

        var mux = new ChannelMux(session, SendMethod.CreateDelegate<Action<Message>>(session), openTimeout, windowSize);
        var complete =
            mux.Subscribe<MessageEventArgs<ChannelOpenConfirmationMessage>>("ChannelOpenConfirmationReceived", (_, e) =>
                mux.Find(e.Message.LocalChannelNumber)?.OnOpenConfirmation(e.Message.RemoteChannelNumber, e.Message.InitialWindowSize, e.Message.MaximumPacketSize))
            && mux.Subscribe<MessageEventArgs<ChannelOpenFailureMessage>>("ChannelOpenFailureReceived", (_, e) => mux.OnOpenFailure(e.Message))
            && mux.Subscribe<MessageEventArgs<ChannelWindowAdjustMessage>>("ChannelWindowAdjustReceived", (_, e) =>
                mux.Find(e.Message.LocalChannelNumber)?.OnWindowAdjust(e.Message.BytesToAdd))
            && mux.Subscribe<MessageEventArgs<ChannelDataMessage>>("ChannelDataReceived", (_, e) =>
                mux.Find(e.Message.LocalChannelNumber)?.OnData(e.Message.Data.AsSpan(e.Message.Offset, e.Message.Size)))
            && mux.Subscribe<MessageEventArgs<ChannelEofMessage>>("ChannelEofReceived", (_, e) => mux.Find(e.Message.LocalChannelNumber)?.OnEof())
            && mux.Subscribe<MessageEventArgs<ChannelCloseMessage>>("ChannelCloseReceived", (_, e) => mux.Find(e.Message.LocalChannelNumber)?.OnClose())
            && mux.Subscribe<MessageEventArgs<ChannelRequestMessage>>("ChannelRequestReceived", (_, e) =>
                mux.Find(e.Message.LocalChannelNumber)?.OnRequest(WantsReply(e.Message)))
            && mux.Subscribe<MessageEventArgs<ChannelOpenMessage>>("ChannelOpenReceived", (_, e) => mux.OnChannelOpen(e.Message))
            && mux.Subscribe<ExceptionEventArgs>("ErrorOccured", (_, _) => mux.AbortAll())
            && mux.Subscribe<EventArgs>("Disconnected", (_, _) => mux.AbortAll());
        if (!complete)
        {
            mux.Dispose();
            return null;
        }

        // Last, so that it runs after the handlers above for the same message.
        mux.StartHolding();
        return mux;
    }

    /// <summary>Gets the receive window each of our channels advertises (RFC 4254 section 5.2), in bytes.</summary>
    public uint WindowSize { get; }

    /// <summary>Gets SSH.NET's internal <c>Session</c> this mux is attached to (for tests).</summary>
    internal object SshNetSession => _session;

    /// <summary>Gets a value indicating whether <paramref name="channel"/> is one of our channel numbers.</summary>
    public static bool IsOurs(uint channel) => channel >= FirstChannel;

    /// <summary>Gets how many of our channels are open or closing.</summary>
    public int ChannelCount => _channels.Count;

    /// <summary>
    /// Opens a direct-tcpip channel to <paramref name="route"/>'s target for an accepted local
    /// connection and relays it (reading the local socket on a thread of its own, for latency);
    /// returns once the channel is open (or refused). Failures go to <paramref name="route"/>;
    /// the socket is closed on failure.
    /// </summary>
    public async Task RelayDirectAsync(Socket local, ForwardRoute route)
    {
        var channel = Register(local, route);
        var remote = route.Remote;
        var origin = local.RemoteEndPoint as IPEndPoint;
        var info = new DirectTcpipOpenInfo(remote.Host, (uint)remote.Port, origin?.Address.ToString() ?? "127.0.0.1", (uint)(origin?.Port ?? 0));
        if (!TrySend(new ChannelOpenMessage(channel.LocalId, WindowSize, RelayChannel.MaxPacket, info)))
        {
            channel.Abort(sessionGone: true);
            route.Report(new SshForwardException(remote, "the SSH session is not connected"));
            return;
        }

        SshForwardException? refusal;
        try
        {
            refusal = await channel.WaitOpenedAsync(_openTimeout).ConfigureAwait(false);
        }
        catch (SshOperationTimeoutException ex)
        {
            // Reported before the client's socket closes: the target is marked unreachable by
            // then (ConnectionGate.TimedOut), so a client that reconnects at once waits for the
            // backoff like every other, instead of slipping through before the mark.
            try
            {
                route.Report(new SshForwardException(remote, ex.Message, ex));
            }
            finally
            {
                channel.CloseAbandoned();
            }

            return;
        }

        // The answer to this very open (RFC 4254 section 5.1 names our channel), before the refusal
        // is reported. Neither (aborted while opening: the session went, or the forward closed): no answer.
        if (refusal is not null || channel.WasConfirmed)
        {
            route.OnAnswered(confirmed: refusal is null);
        }

        if (refusal is not null)
        {
            route.Report(refusal);
            ChannelRefused?.Invoke(refusal);
            return;
        }

        channel.Start(readerThread: true);
    }

    /// <summary>Closes every channel relayed for <paramref name="owner"/> (a forward closed on request).</summary>
    public void CloseChannelsOf(object owner)
    {
        foreach (var (channel, channelOwner) in _owners)
        {
            if (ReferenceEquals(channelOwner, owner))
            {
                channel.Abort(sessionGone: false);
            }
        }
    }

    /// <summary>Sends a message; false when the session is down.</summary>
    internal bool TrySend(Message message)
    {
        try
        {
            _send(message);
            return true;
        }
        catch (Exception ex) when (ex is SshException or SocketException or ObjectDisposedException or InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>Forgets a channel whose number may be reused.</summary>
    internal void Release(RelayChannel channel)
    {
        _channels.TryRemove(channel.LocalId, out _);
        _owners.TryRemove(channel, out _);
    }

    /// <summary>Stops listening to the session and closes every channel.</summary>
    public void Dispose()
    {
        _disposed = true;
        foreach (var (e, handler) in _subscriptions)
        {
            e.RemoveEventHandler(_session, handler);
        }

        StopHolding();

        foreach (var channel in _channels.Values)
        {
            channel.Abort(sessionGone: false);
        }
    }

    private static bool WantsReply(ChannelRequestMessage message) =>
        message.RequestData is { Length: > 0 } data && data[0] != 0; // RFC 4254 section 5.4: "boolean want reply" first

    private bool Subscribe<TArgs>(string name, EventHandler<TArgs> handler)
    {
        var e = SshFastPath.SshNetSessionType?.GetEvent(name, BindingFlags.Instance | BindingFlags.Public);
        if (e is null || e.EventHandlerType != typeof(EventHandler<TArgs>))
        {
            return false;
        }

        e.AddEventHandler(_session, handler);
        _subscriptions.Add((e, handler));
        return true;
    }

    private RelayChannel? Find(uint channel) => IsOurs(channel) && _channels.TryGetValue(channel, out var found) ? found : null;

    private RelayChannel Register(Socket local, object owner)
    {
        var id = unchecked((uint)Interlocked.Increment(ref _nextChannel));
        var channel = new RelayChannel(this, id, local);
        _channels[id] = channel;
        _owners[channel] = owner;
        return channel;
    }

    private void OnOpenFailure(ChannelOpenFailureMessage message)
    {
        if (Find(message.LocalChannelNumber) is not { } channel || !_owners.TryGetValue(channel, out var owner))
        {
            return;
        }

        var target = owner is ForwardRoute route ? route.Remote : new TcpEndpoint("?", 1);
        channel.OnOpenFailure(new SshForwardException(
            target,
            $"the SSH server could not open a channel to it ({ChannelOpenFailures.ReasonName(message.ReasonCode)}: {message.Description})"));
    }

    private void AbortAll()
    {
        foreach (var channel in _channels.Values)
        {
            channel.Abort(sessionGone: true);
        }
    }
}
