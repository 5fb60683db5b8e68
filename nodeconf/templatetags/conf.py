"""Template filters for Asterisk config files (see nodeconf.asterisk.conf_value)."""
from django import template

from nodeconf.asterisk import conf_value

register = template.Library()


@register.filter(name="conf")
def conf(value) -> str:
    return conf_value(value)


@register.filter(name="get_item")
def get_item(mapping, key):
    return mapping.get(key, [])
