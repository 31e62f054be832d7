using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using Renci.SshNet;
using Renci.SshNet.Messages.Connection;

namespace ZmqAspire.Tunneling;

/// <summary>
/// Remote forwards (RFC 4254 section 7.2): the server's "forwarded-tcpip" channels, taken from a
/// started <see cref="ForwardedPortRemote"/> and relayed by <see cref="RelayChannel"/>.
/// </summary>
internal sealed partial class ChannelMux
{
    /// <summary>SSH.NET's internal forwarded-tcpip open info, named by a literal so the trimmer keeps the properties we read.</summary>
    [DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicProperties)]
    private static readonly Type? ForwardedInfoType = Type.GetType("Renci.SshNet.Messages.Connection.ForwardedTcpipChannelInfo, Renci.SshNet");

    private static readonly PropertyInfo? ConnectedAddressProperty = ForwardedInfoType?.GetProperty("ConnectedAddress");

    private static readonly PropertyInfo? ConnectedPortProperty = ForwardedInfoType?.GetProperty("ConnectedPort");

    private static readonly EventInfo? OpenReceivedEvent = SshFastPath.SshNetSessionType?.GetEvent("ChannelOpenReceived", BindingFlags.Instance | BindingFlags.Public);

    private static readonly FieldInfo? OpenReceivedField = SshFastPath.SshNetSessionType?.GetField("ChannelOpenReceived", NonPublicInstance);

    private static readonly MethodInfo? SshNetOpenHandler = typeof(ForwardedPortRemote).GetMethod("Session_ChannelOpening", NonPublicInstance);

    /// <summary>Gets a value indicating whether forwarded-tcpip channels can be accepted (remote forwards).</summary>
    public static bool CanAcceptForwarded => ConnectedAddressProperty is not null && ConnectedPortProperty is not null;

    /// <summary>
    /// Takes the forwarded-tcpip channels (RFC 4254 section 7.2) of a started
    /// <see cref="ForwardedPortRemote"/> from SSH.NET, connecting each to the port's target.
    /// SSH.NET's own handling (a blocked thread per connection, and a relay that outlives its
    /// peer) is unsubscribed from the session. Returns null, leaving SSH.NET's in place, when
    /// that cannot be done and checked. Dispose the result to stop and close the channels.
    /// </summary>
    /// <param name="port">The started port: it keeps the server's listener (tcpip-forward).</param>
    /// <param name="failed">Told when a connection to the target cannot be made.</param>
    public IDisposable? TryTakeOverForwarded(ForwardedPortRemote port, Action<Exception> failed)
    {
        if (!CanAcceptForwarded || OpenReceivedEvent is null || OpenReceivedField is null || SshNetOpenHandler is null
            || OpenReceivedEvent.EventHandlerType is not { } handlerType)
        {
            return null;
        }

        var route = new RemoteRoute(this, (port.BoundHost, port.BoundPort), new IPEndPoint(port.HostAddress, checked((int)port.Port)), failed);
        _remoteRoutes[route.Key] = route;
        OpenReceivedEvent.RemoveEventHandler(_session, Delegate.CreateDelegate(handlerType, port, SshNetOpenHandler));
        var remaining = (OpenReceivedField.GetValue(_session) as Delegate)?.GetInvocationList() ?? [];
        if (remaining.Any(d => ReferenceEquals(d.Target, port)))
        {
            route.Dispose();
            return null;
        }

        return route;
    }

    /// <summary>A channel the server opens (forwarded-tcpip): on SSH.NET's receive thread, so the connect is asynchronous.</summary>
    private void OnChannelOpen(ChannelOpenMessage message)
    {
        if (message.Info is not { } info || info.GetType() != ForwardedInfoType
            || ConnectedAddressProperty?.GetValue(info) is not string address || ConnectedPortProperty?.GetValue(info) is not uint port
            || !_remoteRoutes.TryGetValue((address, port), out var route))
        {
            return; // not ours: SSH.NET's handler, if any, answers it
        }

        _ = route.AcceptAsync(message.LocalChannelNumber, message.InitialWindowSize, message.MaximumPacketSize);
    }

    /// <summary>One remote forward's routing: where accepted channels are connected to.</summary>
    private sealed class RemoteRoute(ChannelMux mux, (string Host, uint Port) key, IPEndPoint target, Action<Exception> failed) : IDisposable
    {
        private volatile bool _closed;

        public (string Host, uint Port) Key => key;

        public async Task AcceptAsync(uint serverChannel, uint window, uint maxPacket)
        {
            var socket = new Socket(target.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(target).ConfigureAwait(false);
            }
            catch (SocketException ex)
            {
                socket.Dispose();
                // RFC 4254 section 5.1: SSH_OPEN_CONNECT_FAILED.
                mux.TrySend(new ChannelOpenFailureMessage(serverChannel, ex.Message, 2));
                if (!_closed)
                {
                    failed(ex);
                }

                return;
            }

            if (_closed || mux._disposed)
            {
                socket.Dispose();
                mux.TrySend(new ChannelOpenFailureMessage(serverChannel, "the forward is closing", 1));
                return;
            }

            var channel = mux.Register(socket, this);
            channel.SetRemote(serverChannel, window, maxPacket);
            // Registered before the confirmation: data may follow it at once.
            if (!mux.TrySend(new ChannelOpenConfirmationMessage(serverChannel, mux.WindowSize, RelayChannel.MaxPacket, channel.LocalId)))
            {
                channel.Abort(sessionGone: true);
                return;
            }

            channel.Start(readerThread: false);
        }

        public void Dispose()
        {
            _closed = true;
            mux._remoteRoutes.TryRemove(key, out _);
            mux.CloseChannelsOf(this);
        }
    }
}
