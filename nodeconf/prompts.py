"""The prompts the portal's dialplan plays, by the names Asterisk's sound packages give them.

A production node gets them from Asterisk's core sounds (Debian: ``asterisk-core-sounds-en-gsm`` or
``-wav``; ``asterisk-core-sounds-es-*`` for Spanish). Without them VoiceMailMain hangs up at once
("Unable to stream password file") and ConfBridge and the echo test run silent. The test suite
generates these with espeak-ng (tests/asterisk/sounds.py); ``check_prompts`` style checks can ask a
node's ARI for each name (``GET /ari/sounds/<name>``).
"""
from __future__ import annotations

#: name → what it says (English), grouped by the application that plays it
PROMPTS: dict[str, str] = {
    # echo test (*130)
    "demo-echotest": "This is the echo test. Speak and hear yourself.",
    "demo-echodone": "The echo test is done.",
    # voicemail (*123, VoiceMailMain): login, main menu, mailbox options, password change
    "vm-login": "Mailbox?",
    "vm-password": "Password?",
    "vm-incorrect": "Login incorrect.",
    "vm-incorrect-mailbox": "Login incorrect. Mailbox?",
    "vm-goodbye": "Goodbye.",
    "vm-youhave": "You have",
    "vm-no": "no",
    "vm-INBOX": "new",
    "vm-Old": "old",
    "vm-and": "and",
    "vm-message": "message",
    "vm-messages": "messages",
    "vm-onefor": "Press one for",
    "vm-opts": "Press 2 to change folders, 0 for mailbox options, star for help.",
    "vm-instructions": "Press 0 for mailbox options.",
    "vm-options": "Press 5 to change your password.",
    "vm-newpassword": "Enter your new password followed by pound.",
    "vm-reenterpassword": "Enter it again followed by pound.",
    "vm-mismatch": "The passwords do not match.",
    "vm-passchanged": "Your password has been changed.",
    "vm-invalid-password": "That password is not valid.",
    "vm-nobodyavail": "Nobody is available to take your call.",
    "vm-intro": "Please leave your message after the tone.",
    "vm-theperson": "The person at extension",
    "vm-isunavail": "is unavailable.",
    "vm-isonphone": "is on the phone.",
    "vm-msgsaved": "Your message has been saved.",
    "vm-sorry": "I am sorry, I did not understand your response.",
    "vm-star-cancel": "Press star to cancel.",
    "beep": "",
    # conference (*125, ConfBridge)
    "conf-onlyperson": "You are the only person in this conference.",
    "conf-getpin": "Please enter the conference pin.",
    "conf-invalidpin": "That pin is not valid.",
    "conf-hasjoin": "has joined the conference.",
    "conf-hasleft": "has left the conference.",
    "conf-thereare": "There are",
    "conf-otherinparty": "other participants in this conference.",
    "conf-placeintoconf": "You will now be placed into the conference.",
    "conf-locked": "This conference is locked.",
    "conf-kicked": "You have been removed from the conference.",
    # conference rooms of the application service (media/service/rooms.py): room number, wrong number
    "conf-getconfno": "Please enter your conference number followed by the pound key.",
    "conf-invalid": "That is not a valid conference number.",
    "confbridge-join": "",
    "confbridge-leave": "",
    # announcements ("locuciones")
    "ss-noservice": "The number you have dialed is not in service.",
    # numbers voicemail says
    **{f"digits/{n}": str(n) for n in range(10)},
}

# The rest of what VoiceMailMain and ConfBridge may play in English (app_voicemail.c, app_confbridge.c and
# confbridge/conf_config_parser.c of Asterisk 22): a missing one makes VoiceMailMain hang up mid-menu.
_MORE = (
    "vm-INBOX1 vm-INBOXs vm-Old1 vm-Olds vm-Family vm-Friends vm-Urgent vm-Work vm-advopts vm-calldiffnum "
    "vm-changeto vm-delete vm-deleted vm-dialout vm-duration vm-enter-num-to-call vm-extension vm-first vm-for "
    "vm-forward vm-forwardoptions vm-from vm-from-extension vm-from-phonenumber vm-have vm-haveno vm-helpexit "
    "vm-last vm-leavemsg vm-listen vm-mailboxfull vm-marked-nonurgent vm-marked-urgent vm-minutes vm-msgforwarded "
    "vm-new vm-newuser vm-next vm-nobox vm-nomessages vm-nomore vm-nonewmessages vm-nonumber vm-nothingrecorded "
    "vm-num-i-have vm-number vm-old vm-onefor-full vm-opts-full vm-pls-try-again vm-prepend-timeout vm-press "
    "vm-prev vm-reachoper vm-rec-busy vm-rec-name vm-rec-temp vm-rec-unv vm-record-prepend vm-repeat vm-review "
    "vm-review-nonurgent vm-review-urgent vm-saved vm-savedto vm-savefolder vm-savemessage vm-saveoper vm-speakup "
    "vm-starmain vm-tempgreetactive vm-tempgreeting vm-tempgreeting2 vm-tempremoved vm-then-pound vm-tmpexists "
    "vm-tocallback vm-tocallnum vm-tocancel vm-tocancelmsg vm-toenternumber vm-toforward vm-tohearenv "
    "vm-tomakecall vm-tooshort vm-toreply vm-torerecord vm-undelete vm-undeleted vm-unknown-caller vm-whichbox "
    "vm-you vm-youhaveno "
    "conf-errormenu conf-leaderhasleft conf-lockednow conf-muted conf-now-muted conf-now-unmuted conf-onlyone "
    "conf-unlockednow conf-unmuted conf-waitforleader confbridge-conf-begin"
).split()
for _name in _MORE:
    PROMPTS.setdefault(_name, _name.split("-", 1)[1].replace("-", " "))
