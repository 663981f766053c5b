"""Chat features on the 课表: the 调课 check and choices, and the timetable queries."""
