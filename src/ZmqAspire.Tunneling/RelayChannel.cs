using System.Buffers;
using System.Net.Sockets;
using Renci.SshNet.Common;
using Renci.SshNet.Messages;
using Renci.SshNet.Messages.Connection;

namespace ZmqAspire.Tunneling;

/// <summary>
/// One SSH channel ("direct-tcpip" or "forwarded-tcpip") relayed to one local TCP connection,
/// with per-channel flow control in both directions (RFC 4254 section 5.2).
/// </summary>
/// <remarks>
/// <para>
/// Why not SSH.NET's channel: its <c>ChannelDirectTcpip.OnData</c> writes each data message to
/// the local socket with a blocking send on the session's only receive thread, and its
/// <c>Channel.OnData</c> sends SSH_MSG_CHANNEL_WINDOW_ADJUST before that send, over a 2 GiB
/// initial window. A local reader that stops therefore blocks every other channel of the
/// session (head-of-line blocking), and nothing slows the remote writer: sshd buffers without bound.
/// </para>
/// <para>
/// Here the receive thread never blocks: it tries a non-blocking send, and queues what the
/// socket does not take for an asynchronous writer. Our window is
/// <see cref="SshTunnelOptions.ChannelWindowSize"/> and, as RFC 4254 section 5.2 allows and OpenSSH does, it is only
/// reopened (SSH_MSG_CHANNEL_WINDOW_ADJUST) for bytes the local socket has accepted: a channel
/// whose local reader stops is held at one window by the server, and the others go on.
/// Outgoing data respects the server's window the same way, waiting without a thread.
/// </para>
/// <para>
/// Closing follows RFC 4254 section 5.3: end of the local stream sends SSH_MSG_CHANNEL_EOF (the
/// other direction stays open: half-close), SSH_MSG_CHANNEL_EOF from the server shuts down the
/// local socket's send side once queued data is written, and SSH_MSG_CHANNEL_CLOSE is sent once
/// both directions are done, or at once on a reset or error; the channel number is released
/// when both sides have sent SSH_MSG_CHANNEL_CLOSE. A local reset is a normal end, not a failure.
/// </para>
/// </remarks>
internal sealed partial class RelayChannel
{
    /// <summary>OpenSSH's receive window for TCP forwarding channels (CHAN_TCP_WINDOW_DEFAULT), in bytes.</summary>
    internal const uint OpenSshWindowSize = 2 * 1024 * 1024;

    /// <summary>The largest data message we accept, in bytes (SSH.NET's value; sshd sends up to this).</summary>
    internal const uint MaxPacket = 64 * 1024;

    private readonly ChannelMux _mux;
    private readonly Socket _socket;
    private readonly Lock _gate = new();

    /// <summary>
    /// Held over each message sent on this channel, with the check that SSH_MSG_CHANNEL_CLOSE
    /// has not been sent (<see cref="SendUnlessClosed"/>): without it, data, an EOF or a window
    /// adjust checked before our CLOSE could reach the wire after it (the receive thread sends
    /// CLOSE while a reader thread sends data), and once sshd has both CLOSEs it frees the channel
    /// and ends the whole session on the late message ("data packet referred to nonexistent
    /// channel", sshnet/SSH.NET#609 and #84). Taken before <see cref="_gate"/>, never inside it.
    /// </summary>
    private readonly Lock _sendGate = new();

    /// <summary>
    /// Held over each read of the local socket by the read loop (<see cref="ReadLoop"/>'s thread
    /// or <see cref="ReadLoopAsync"/>; non-blocking: microseconds) and while
    /// <see cref="CloseSocket"/> stops reads (<see cref="_readsStopped"/>), before it shuts the
    /// socket down: no read may follow that shutdown. Linux still hands out what was queued
    /// after SHUT_RD, but sends no window update for it (nothing more will be received), so a
    /// read there could empty a receive queue that had closed the peer's window, and close()
    /// then sends FIN instead of the RST that unread data gets: the peer, still sending, waited
    /// on a zero window until the kernel dropped our closed socket (its FIN-WAIT-2 timeout,
    /// 60 s, then the window probes' back-off: over 95 s seen). Seen for a local forward's
    /// client in 1 of 200 to 1,400 connections of the close-race flood (ChannelCloseRaceTests),
    /// and for a remote forward's target, whose reads were asynchronous receives, in about 1 of
    /// 700 (RemoteCloseRaceTests). Left unread, the data makes close() reset the connection,
    /// and the peer's send fails at once.
    /// </summary>
    private readonly Lock _readGate = new();
    private readonly Queue<Chunk> _pending = new();
    private readonly TaskCompletionSource<SshForwardException?> _opened = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _windowOpened = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private uint _remoteId;
    private uint _remoteWindow;
    private uint _remoteMaxPacket;
    private readonly uint _windowSize;
    private uint _localWindow;
    private uint _consumed;
    private byte[]? _held;
    private int _heldCount;
    private bool _open;
    private bool _abandoned;
    private bool _writing;
    private bool _eofReceived;
    private bool _eofSent;
    private bool _localReadDone;
    private bool _closeReceived;
    private bool _closeSent;
    private bool _socketClosed;
    private bool _readsStopped;

    public RelayChannel(ChannelMux mux, uint localId, Socket socket)
    {
        _mux = mux;
        _windowSize = mux.WindowSize;
        _localWindow = _windowSize;
        LocalId = localId;
        _socket = socket;
        // Non-blocking for the receive thread's sends; asynchronous operations are unaffected.
        socket.Blocking = false;
        socket.NoDelay = true;
    }

    /// <summary>Gets a value indicating whether the server confirmed our open (SSH_MSG_CHANNEL_OPEN_CONFIRMATION).</summary>
    public bool WasConfirmed
    {
        get
        {
            lock (_gate)
            {
                return _open;
            }
        }
    }

    /// <summary>Gets our channel number.</summary>
    public uint LocalId { get; }

    /// <summary>Gets a task that completes when the local socket is closed and the channel released.</summary>
    public Task Finished => _finished.Task;

    /// <summary>Waits for the server to confirm the channel we asked to open; returns its refusal, if any.</summary>
    /// <exception cref="SshOperationTimeoutException">No answer within <paramref name="timeout"/>: the
    /// channel is abandoned, and the caller closes the local socket (<see cref="CloseAbandoned"/>)
    /// once the timeout is recorded.</exception>
    public async Task<SshForwardException?> WaitOpenedAsync(TimeSpan timeout)
    {
        try
        {
            return await _opened.Task.WaitAsync(timeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            lock (_gate)
            {
                // A confirmation that still comes is answered with SSH_MSG_CHANNEL_CLOSE.
                _abandoned = true;
            }

            throw new SshOperationTimeoutException($"the SSH server did not answer the channel open within {timeout.TotalSeconds:0.###} s");
        }
    }

    /// <summary>Takes the server's side of a channel it opened (forwarded-tcpip) or confirmed.</summary>
    public void SetRemote(uint remoteId, uint window, uint maxPacket)
    {
        lock (_gate)
        {
            _remoteId = remoteId;
            _remoteWindow = window;
            _remoteMaxPacket = Math.Max(1, maxPacket);
            _open = true;
        }
    }

    /// <summary>Starts relaying from the local socket; returns at once.</summary>
    /// <param name="readerThread">
    /// True: read the local socket on a dedicated thread that waits in the kernel (local
    /// forwards, as before: a thread per connection, the lowest latency); false: asynchronous
    /// reads that hold no thread while idle (remote forwards). An asynchronous receive costs a
    /// thread hop per read (.NET's event thread, then a pool thread): measured on the 64 B round
    /// trip, about twice the median latency on a loaded two-core machine.
    /// </param>
    public void Start(bool readerThread)
    {
        lock (_gate)
        {
            if (_socketClosed)
            {
                return; // closed while opening
            }
        }

        if (!readerThread)
        {
            _ = ReadLoopAsync();
            return;
        }

        new Thread(ReadLoop) { IsBackground = true, Name = "ZmqAspire.Tunneling relay reader" }.Start();
    }

    internal void OnOpenConfirmation(uint remoteId, uint window, uint maxPacket)
    {
        bool abandoned;
        lock (_gate)
        {
            abandoned = _abandoned;
        }

        SetRemote(remoteId, window, maxPacket);
        if (abandoned)
        {
            Close(sendClose: true);
            return;
        }

        _opened.TrySetResult(null);
    }

    internal void OnOpenFailure(SshForwardException refusal)
    {
        _opened.TrySetResult(refusal);
        CloseSocket();
        _mux.Release(this);
        _finished.TrySetResult();
    }

    internal void OnEof()
    {
        // Data before the EOF is written before the local socket's send side is shut down.
        WriteHeld();
        lock (_gate)
        {
            _eofReceived = true;
            if (_writing)
            {
                return; // the writer shuts the socket down once the queue is written
            }
        }

        ShutdownSend();
        CloseIfDone();
    }

    internal void OnClose()
    {
        WriteHeld();
        bool writing;
        lock (_gate)
        {
            _closeReceived = true;
            writing = _writing;
        }

        // Data already queued is still written (the server sent it before closing): the writer
        // closes the socket and releases the channel when it is done.
        if (!writing)
        {
            Close(sendClose: true);
        }
        else
        {
            SendCloseOnce();
        }
    }

    /// <summary>Answers a channel request that wants a reply (RFC 4254 section 5.4): we support none, so SSH_MSG_CHANNEL_FAILURE.</summary>
    /// <remarks>sshd's <c>ClientAliveInterval</c> probes are such requests (keepalive@openssh.com): any reply counts as alive.</remarks>
    internal void OnRequest(bool wantReply)
    {
        uint remoteId;
        lock (_gate)
        {
            if (!wantReply || !_open || _closeSent)
            {
                return;
            }

            remoteId = _remoteId;
        }

        SendUnlessClosed(new ChannelFailureMessage(remoteId));
    }

    /// <summary>Closes the local socket without a word to the server (the session is gone), or with SSH_MSG_CHANNEL_CLOSE.</summary>
    internal void Abort(bool sessionGone)
    {
        lock (_gate)
        {
            if (sessionGone)
            {
                _closeSent = true;
                _closeReceived = true;
            }
            else if (!_open)
            {
                // Still opening: a confirmation that comes is answered with SSH_MSG_CHANNEL_CLOSE,
                // so that the server does not keep a channel nobody uses.
                _abandoned = true;
            }
        }

        _opened.TrySetResult(null);

        Close(sendClose: !sessionGone);
    }

    /// <summary>Sends SSH_MSG_CHANNEL_CLOSE once both directions have ended.</summary>
    private void CloseIfDone()
    {
        bool done;
        lock (_gate)
        {
            done = _localReadDone && _eofReceived && !_writing;
        }

        if (done)
        {
            Close(sendClose: true);
        }
    }

    private void Close(bool sendClose)
    {
        CloseSocket();
        if (sendClose)
        {
            SendCloseOnce();
        }

        ReleaseIfClosed();
    }

    private void SendCloseOnce()
    {
        lock (_sendGate)
        {
            uint remoteId;
            lock (_gate)
            {
                if (_closeSent || !_open)
                {
                    return;
                }

                _closeSent = true;
                remoteId = _remoteId;
            }

            _mux.TrySend(new ChannelCloseMessage(remoteId));
        }
    }

    /// <summary>
    /// Sends a message on this channel unless our SSH_MSG_CHANNEL_CLOSE went first (RFC 4254
    /// section 5.3: nothing may follow it); false when it did or the session is down.
    /// </summary>
    private bool SendUnlessClosed(Message message)
    {
        lock (_sendGate)
        {
            lock (_gate)
            {
                if (_closeSent)
                {
                    return false;
                }
            }

            return _mux.TrySend(message);
        }
    }

    private void ReleaseIfClosed()
    {
        bool released;
        lock (_gate)
        {
            // Never opened (refused or abandoned before confirmation): nothing to wait for.
            released = (_closeSent && _closeReceived) || (!_open && _socketClosed && !_abandoned);
        }

        if (released)
        {
            CloseSocket();
            _mux.Release(this);
            _finished.TrySetResult();
        }
    }

    private void ShutdownSend()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Already reset or closed.
        }
    }

    /// <summary>Closes the local socket of a channel whose open timed out (<see cref="WaitOpenedAsync"/>).</summary>
    public void CloseAbandoned() => CloseSocket();

    private void CloseSocket()
    {
        TaskCompletionSource windowOpened;
        lock (_gate)
        {
            if (_socketClosed)
            {
                return;
            }

            _socketClosed = true;
            if (_held is { } held)
            {
                _held = null;
                _heldCount = 0;
                ArrayPool<byte>.Shared.Return(held);
            }

            while (_pending.Count > 0 && !_writing)
            {
                ArrayPool<byte>.Shared.Return(_pending.Dequeue().Buffer);
            }

            windowOpened = _windowOpened;
        }

        // No read from here on: see _readGate. Data the client sent that we have not read stays
        // queued, so that closing the socket resets the connection.
        lock (_readGate)
        {
            _readsStopped = true;
        }

        // Wakes a read loop waiting for the server's window, and one waiting in poll() (which
        // closing the descriptor alone does not wake on Linux).
        windowOpened.TrySetResult();
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Not connected any more.
        }

        _socket.Dispose();
    }
}
